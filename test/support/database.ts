/**
 * A database of the test file's own, cloned from the template that holds the
 * Hydra-compatible schema, and helpers that write to it the way Hydra does:
 * rows in transactions, NOTIFYs inside them (`NOTIFY chan, 'payload'` and
 * `SELECT pg_notify(…)`), delivered at COMMIT.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { inTransaction } from '../../src/db/transaction.js';
import { installHydraSchema } from '../../src/hydra/install.js';
import { leaks, onCleanup } from './gateway.js';
import { insertBuild } from './hydra.js';

/** A test database and a pool on it. */
export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** Runs `fn` on a connection to the server's maintenance database. */
export async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('postgres').adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Clones the template (Hydra's tables, no rows) into a fresh database, or
 * with `empty` makes one without any table, or with `encoding` one in that
 * server encoding (e.g. `SQL_ASCII`, as old Hydra databases may be) with
 * Hydra's tables installed; dropped after the test file.
 */
export async function createTestDatabase(options: { empty?: boolean; encoding?: string } = {}): Promise<TestDatabase> {
  const { adminUrl, template } = inject('postgres');
  const name = `hng_${randomBytes(6).toString('hex')}`;
  const create = options.encoding
    ? `CREATE DATABASE ${name} TEMPLATE template0 ENCODING '${options.encoding}' LC_COLLATE 'C' LC_CTYPE 'C'`
    : `CREATE DATABASE ${name} TEMPLATE ${options.empty ? 'template0' : template}`;
  // CREATE DATABASE … TEMPLATE fails while another session uses the template
  // (a parallel file cloning it at the same moment): retry a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await admin((c) => c.query(create));
      break;
    } catch (error) {
      if (attempt >= 10 || !/being accessed by other users/.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 20 });
  pool.on('error', () => {});
  const database: TestDatabase = {
    url: url.toString(),
    name,
    pool,
    async drop() {
      await pool.end().catch(() => {});
      await admin(async (c) => {
        // Everything else of the file has been disposed by now: a connection still open is a leaked pool or client.
        const open = async () =>
          (
            await c.query(`SELECT coalesce(nullif(application_name, ''), 'a client') AS app FROM pg_stat_activity WHERE datname = $1`, [
              name,
            ])
          ).rows as { app: string }[];
        const deadline = Date.now() + 3_000;
        let left = await open();
        while (left.length > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 25));
          left = await open();
        }
        if (left.length > 0)
          leaks.push(`${left.length} connection(s) to the file's database still open: ${left.map((r) => r.app).join(', ')}`);
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
    },
  };
  // Dropped after the file, after the gateways and clients started later.
  onCleanup(() => database.drop());
  if (options.encoding) {
    const client = await pool.connect();
    try {
      await installHydraSchema(client);
    } finally {
      client.release();
    }
  }
  return database;
}

/** How a notification is sent: the NOTIFY statement or the pg_notify function. */
export type NotifyStyle = 'statement' | 'function';

/**
 * Sends `notifications` in ONE transaction (delivered together at COMMIT), as
 * Hydra does. Statement style uses `NOTIFY chan, 'literal'`; function style
 * `SELECT pg_notify($1, $2)`.
 */
export async function notify(
  pool: pg.Pool,
  notifications: readonly (readonly [channel: string, payload: string])[],
  style: NotifyStyle = 'statement',
): Promise<void> {
  await inTransaction(pool, async (client) => {
    for (const [channel, payload] of notifications) {
      if (style === 'statement') {
        await client.query(
          payload === ''
            ? `NOTIFY ${client.escapeIdentifier(channel)}`
            : `NOTIFY ${client.escapeIdentifier(channel)}, ${client.escapeLiteral(payload)}`,
        );
      } else {
        await client.query('SELECT pg_notify($1, $2)', [channel, payload]);
      }
    }
  });
}

/** Queues `n` builds of jobs `${job}0`, `${job}1`, … and announces them with one `build_queued` each, in one transaction; their ids in order. */
export async function queueAndAnnounce(pool: pg.Pool, jobsetId: number, n: number, job: string): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(await insertBuild(pool, jobsetId, { job: `${job}${i}` }));
  await notify(
    pool,
    ids.map((id) => ['build_queued', String(id)] as const),
  );
  return ids;
}

/** Runs `fn` in a transaction on a client of `pool`. */
export { inTransaction as transaction };

/** A statement a pool sent: its name (the word in its leading comment, e.g. buildsWithJobsets) and its first parameter. */
export interface SentStatement {
  name: string;
  first: unknown;
}

/**
 * Watches the statements `pool` sends from now on, by their leading comment,
 * with their first parameter, until `restore()`.
 */
export function watchStatements(pool: pg.Pool): { calls: SentStatement[]; restore(): void } {
  const calls: SentStatement[] = [];
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as unknown as { query: unknown }).query = (text: unknown, values?: unknown[], ...rest: unknown[]) => {
    const sql = typeof text === 'string' ? text : (text as { text?: string } | undefined)?.text;
    const name = sql === undefined ? undefined : /\/\* (\w+) \*\//.exec(sql)?.[1];
    if (name) calls.push({ name, first: values?.[0] });
    return query(text, values, ...rest);
  };
  return { calls, restore: () => void ((pool as unknown as { query: unknown }).query = query) };
}
