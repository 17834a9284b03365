/**
 * The one database capability query modules need: run a parameterized
 * statement. A `pg.Pool`, a checked-out `pg.PoolClient` (inside a
 * transaction) and a `pg.Client` all satisfy it, so each query module works in
 * and out of transactions alike.
 */
import type pg from 'pg';

/** Anything that can run a parameterized query. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}
