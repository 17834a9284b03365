// Builds hydra-notify-gateway/client (src/client) into dist/client with tsc
// (tsconfig.client.json). npm runs it as `prepare`: after `npm ci` or
// `npm install` in a clone, and when another project installs this one from
// git, so the package's `exports` always find the JavaScript and the
// declarations. An install without dev dependencies (`npm ci --omit=dev`,
// the systemd deployment) runs the gateway, which needs no client: there is
// no TypeScript compiler then, and the build is skipped, saying so.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  console.error(
    'hydra-notify-gateway: not building the client (dist/client): TypeScript is not installed (an install without dev dependencies)',
  );
  process.exit(0);
}
const { status, signal } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.client.json'], {
  cwd: new URL('..', import.meta.url),
  stdio: 'inherit',
});
process.exit(status ?? (signal ? 1 : 0));
