/**
 * The start command as a child process, the way tests of real processes run
 * it: `tsx src/main.ts` (what `npm start` runs) in a process group of its own
 * (tsx runs main.ts in a child node, which may run an embedded Postgres), so
 * that a signal to the group reaches them all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/**
 * Spawns the start command with `vars` as its configuration: nothing of the
 * developer's own (DATABASE_URL, PORT, HOST and HNG_* are taken out of this
 * process's environment first). Standard input is ignored, standard error
 * piped, standard output piped or ignored.
 */
export function spawnStartCommand(vars: Record<string, string>, stdout: 'pipe' | 'ignore'): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key === 'DATABASE_URL' || key === 'PORT' || key === 'HOST' || key.startsWith('HNG_')) delete env[key];
  }
  return spawn(TSX, ['src/main.ts'], {
    cwd: ROOT,
    env: { ...env, ...vars },
    detached: true,
    stdio: ['ignore', stdout, 'pipe'],
  });
}

/** SIGKILL to the child's whole process group (no shutdown code runs), unless it is gone already. */
export function killGroup(child: ChildProcess): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
