// Builds the gateway (src/) into dist/app with tsc (tsconfig.build.json), and
// copies beside the JavaScript the files it reads at run time next to its
// modules (Hydra's schema, the migrations). `npm start` runs it first
// (incremental: a few seconds when nothing changed) and then runs
// dist/app/src/main.js; the systemd deployment runs it before pruning the dev
// dependencies. Without TypeScript (an install without dev dependencies) it
// says so and fails: there would be nothing to run. Why a build step:
// docs/decisions.md, section 10.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url);
const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  console.error('hydra-notify-gateway: cannot build the gateway (dist/app): TypeScript is not installed; run npm ci first');
  process.exit(1);
}
const { status, signal } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (status !== 0) process.exit(status ?? (signal ? 1 : 0));
const copy = (from) => cpSync(new URL(from, root), new URL(`dist/app/${from}`, root));
copy('src/hydra/schema.sql');
for (const file of readdirSync(new URL('src/db/migrations/', root))) if (file.endsWith('.sql')) copy(`src/db/migrations/${file}`);
