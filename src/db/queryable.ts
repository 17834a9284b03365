/**
 * The one database capability query modules need: run a parameterized
 * statement. A `pg.Pool`, a checked-out `pg.PoolClient` (inside a
 * transaction) and a `pg.Client` all satisfy it, so each query module works in
 * and out of transactions alike.
 *
 * A statement on the hot path (run per event or per journal write) is passed
 * as `Prepared`: pg parses it once per connection, by name, and Postgres
 * reuses its plan, where a plain text is parsed and planned on every call.
 * Its text must keep one meaning for the life of a connection (no DDL it
 * depends on changes the shape of its result).
 */
import type pg from 'pg';

/** A statement prepared once per connection under `name` (unique among the gateway's statements). */
export interface Prepared {
  name: string;
  text: string;
}

/** Anything that can run a parameterized query. */
export interface Queryable {
  query(statement: string | Prepared, values?: unknown[]): Promise<pg.QueryResult>;
}
