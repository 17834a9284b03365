/**
 * Transactions: the one helper every BEGIN/COMMIT of the gateway (and of its
 * tests) goes through.
 *
 * Contract: `transaction(session, fn)` runs `fn` between BEGIN and COMMIT on a
 * session the caller owns (a checked-out client, or the LISTEN connection's
 * exclusive turn): committed when `fn` resolves, rolled back when it throws
 * (the error is rethrown; a failing ROLLBACK is swallowed: the session is
 * then broken anyway, and pg drops a broken pool client by itself).
 * `inTransaction(pool, fn)` checks a client out of the pool for it
 * (`withClient`, the one checkout of the gateway) and releases it either
 * way; a connection lost while it is checked out fails the work (never the
 * process) and is not returned to the pool.
 */
import type pg from 'pg';
import type { Queryable } from './queryable.js';

/** Runs `fn` in a transaction on `session`, which the caller owns for the duration. */
export async function transaction<T, S extends Queryable>(session: S, fn: (tx: S) => Promise<T>): Promise<T> {
  await session.query('/* begin */ BEGIN');
  let result: T;
  try {
    result = await fn(session);
  } catch (error) {
    await session.query('/* rollback */ ROLLBACK').catch(() => {});
    throw error;
  }
  await session.query('/* commit */ COMMIT');
  return result;
}

/** Runs `fn` in a transaction on a connection of its own from `pool`. */
export function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, (client) => transaction(client, fn));
}

/** Runs `fn` on a client checked out of `pool`, released (or discarded, if its connection was lost) either way. */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no listener of the pool's: an error the server sends between two
  // statements (the session terminated, the database shutting down) would crash the process.
  // It fails the work instead: the next statement rejects, and the client is discarded.
  let lost: Error | undefined;
  const onError = (error: Error) => (lost = error);
  client.on('error', onError);
  try {
    return await fn(client);
  } finally {
    client.removeListener('error', onError);
    client.release(lost);
  }
}
