/**
 * The servers under test run from JavaScript that tsc emitted, without a
 * TypeScript loader, as `npm start` runs the gateway (dist/app); `--tsx`
 * runs them under tsx instead (as the bench did before issue 8's last
 * round), which costs each server process a loader thread and more.
 *
 * Contract: `buildCompiled(dir)` compiles src/ and bench/
 * (tsconfig.bench.json) into `dir` without type-checking (`--noCheck`:
 * `npm run check` does that; with `isolatedModules` and
 * `verbatimModuleSyntax` tsc's output does not depend on the types, and
 * skipping the check takes most of the step's time off), copies beside the output the files the
 * gateway reads at run time relative to its modules (Hydra's schema, the
 * migrations), and links `node_modules`, `dist` (the dashboard's build) and
 * `package.json`, so that `dir/bench/servers/<kind>.js` starts like its
 * source does. It is made once per run, in the run's log folder; every later
 * server child starts from it (launch.ts, children.ts).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let compiledDir: string | null = null;

/** Where the compiled project is, once `buildCompiled` ran; null: gateways run under tsx. */
export function compiledRoot(): string | null {
  return compiledDir;
}

/** Compiles the project into `dir` and makes later gateways start from it; see the module contract. */
export function buildCompiled(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.bench.json'), '--noCheck', '--outDir', dir], { stdio: 'inherit' });
  cpSync(join(ROOT, 'src/hydra/schema.sql'), join(dir, 'src/hydra/schema.sql'));
  cpSync(join(ROOT, 'src/db/migrations'), join(dir, 'src/db/migrations'), { recursive: true });
  for (const name of ['node_modules', 'dist', 'package.json']) symlinkSync(join(ROOT, name), join(dir, name));
  compiledDir = dir;
}
