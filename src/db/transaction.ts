/**
 * Transactions on the query pool: one checked-out connection for the whole
 * callback, committed when it resolves, rolled back when it throws, and
 * released either way.
 */
import type pg from 'pg';
import type { Queryable } from './queryable.js';

/** Runs `fn` in a transaction on a connection from `pool`. */
export async function inTransaction<T>(pool: pg.Pool, fn: (db: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
