/**
 * Transactions on the query pool: one checked-out connection for the whole
 * callback, committed when it resolves, rolled back when it throws, and
 * released either way.
 */
import type pg from 'pg';

/** Runs `fn` in a transaction on a connection from `pool`. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('/* begin */ BEGIN');
    const result = await fn(client);
    await client.query('/* commit */ COMMIT');
    return result;
  } catch (error) {
    await client.query('/* rollback */ ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
