/**
 * `npm run build:dashboard`: builds the dashboard with Vite into
 * `dist/dashboard/` when it is missing or stale, and does nothing otherwise.
 * `npm start` runs it first (prestart), and so does the tests' global setup,
 * so a fresh clone's `npm ci && npm start` serves a dashboard without a
 * build committed.
 *
 * Contract:
 * - Stale means: the stamp in the output (`.stamp`, a SHA-256 of every file
 *   under dashboard/ but this folder's own output, and of package-lock.json,
 *   which pins Vite, Preact and graphql-ws) differs from the inputs' hash
 *   now, or the manifest is missing. An up-to-date check reads the inputs
 *   only (a few milliseconds); a build takes a few seconds.
 * - The output appears whole or not at all: Vite writes to a temporary
 *   folder beside it, renamed into place when complete, so a gateway starting
 *   meanwhile (or a second build running at the same time) never reads half a
 *   build. A gateway already running keeps the files it loaded.
 * - It is always the production build (minified, Preact's production JSX),
 *   whatever NODE_ENV the caller runs with (vitest sets `test`).
 * - A failed build throws (the command exits 1 with Vite's message) and
 *   leaves the previous output as it was.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const DASHBOARD = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(DASHBOARD, '..');

/** Where the build goes; the gateway serves it from there. */
export const OUTPUT = join(ROOT, 'dist', 'dashboard');

/** The file in the output that names the inputs it was built from. */
const STAMP = '.stamp';

/** Every file the build depends on, sorted: dashboard/ (without node_modules) and the lock file. */
function inputs(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(path);
      } else {
        files.push(path);
      }
    }
  };
  walk(DASHBOARD);
  files.push(join(ROOT, 'package-lock.json'));
  return files.sort();
}

/** The hash of the inputs: their paths and contents. */
export function inputsHash(): string {
  const hash = createHash('sha256');
  for (const file of inputs()) {
    hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/** Whether `OUTPUT` holds a complete build of the current inputs. */
export function upToDate(): boolean {
  const stamp = join(OUTPUT, STAMP);
  if (!existsSync(stamp) || !existsSync(join(OUTPUT, '.vite', 'manifest.json'))) return false;
  return readFileSync(stamp, 'utf8').trim() === inputsHash();
}

/** Builds into `OUTPUT` unless it is up to date; resolves whether it built. */
export async function ensureDashboardBuilt(log: (line: string) => void = () => {}): Promise<boolean> {
  if (upToDate()) return false;
  const hash = inputsHash();
  const { build } = await import('vite');
  const temporary = `${OUTPUT}.build-${process.pid}`;
  const started = Date.now();
  log('building the dashboard (vite)…');
  // Vite takes NODE_ENV over `mode`: under vitest (NODE_ENV=test) it would build Preact's
  // development JSX. The build is always the production one.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ configFile: join(DASHBOARD, 'vite.config.ts'), mode: 'production', build: { outDir: temporary }, logLevel: 'warn' });
    writeFileSync(join(temporary, STAMP), `${hash}\n`);
    const previous = `${OUTPUT}.old-${process.pid}`;
    try {
      if (existsSync(OUTPUT)) renameSync(OUTPUT, previous);
      renameSync(temporary, OUTPUT);
    } catch (error) {
      // Another build of the same inputs finished in between: its output is as good as ours.
      if (!upToDate()) throw error;
    }
    rmSync(previous, { recursive: true, force: true });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
    rmSync(temporary, { recursive: true, force: true });
  }
  log(`built the dashboard into ${relative(process.cwd(), OUTPUT) || OUTPUT} in ${Date.now() - started} ms`);
  return true;
}

// `node --import tsx dashboard/build.ts`
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureDashboardBuilt((line) => process.stderr.write(`${line}\n`)).then(
    (built) => {
      if (!built) process.stderr.write('the dashboard is up to date\n');
    },
    (error: unknown) => {
      process.stderr.write(`build:dashboard failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
