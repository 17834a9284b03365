/**
 * `inTransaction` on a connection the server ends between two statements
 * (an administrator's `pg_terminate_backend`, as a failover or a restart
 * does): the transaction rejects, nothing of it commits, the process goes on
 * (a pool's checked-out client has no error listener, and pg emits the
 * server's FATAL as an `error` event), and the pool serves the next one.
 */
import pg from 'pg';
import { describe, expect } from 'vitest';
import { inTransaction } from '../src/db/transaction.js';
import { test } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';

describe('a transaction whose connection is terminated between two statements', () => {
  test('rejects, commits nothing, and the pool serves the next', async ({ db }) => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    onCleanup(() => pool.end());
    await db.pool.query('CREATE TABLE IF NOT EXISTS terminated_tx (id int)');

    const failed = inTransaction(pool, async (client) => {
      await client.query('INSERT INTO terminated_tx VALUES (1)');
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const ended = new Promise((resolve) => client.once('end', resolve));
      // From another session, while this one is idle inside its transaction.
      await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await ended;
      await client.query('INSERT INTO terminated_tx VALUES (2)');
    });
    await expect(failed).rejects.toThrow();

    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM terminated_tx');
    expect(rows[0].n).toBe(0);
    expect(await inTransaction(pool, async (client) => (await client.query('SELECT 1 AS one')).rows[0].one)).toBe(1);
  });
});
