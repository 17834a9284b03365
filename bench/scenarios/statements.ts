/**
 * Counting the statements a server runs, with `pg_stat_statements` (preloaded
 * by the bench's Postgres, created in the history database).
 *
 * Contract: `resetStatements` clears the counters; `countStatements` reads
 * the calls per statement of one database since then, keyed by the
 * statement's leading `/* name *\/` comment (the project's convention) or its
 * first 60 characters, leaving out the bench's own statements (named
 * `/* bench… *\/`) and pg_stat_statements' own.
 */
import type pg from 'pg';

/** Clears pg_stat_statements. */
export async function resetStatements(client: pg.Client): Promise<void> {
  await client.query('SELECT pg_stat_statements_reset()');
}

/** Calls per statement in the connected database since the last reset. */
export async function countStatements(client: pg.Client): Promise<Record<string, number>> {
  const { rows } = await client.query<{ query: string; calls: string }>(
    `SELECT query, calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  const out: Record<string, number> = {};
  for (const row of rows) {
    const name = /^\s*\/\*\s*([\w.-]+)\s*\*\//.exec(row.query)?.[1] ?? row.query.replace(/\s+/g, ' ').slice(0, 60);
    if (name.startsWith('bench') || row.query.includes('pg_stat_statements')) continue;
    out[name] = (out[name] ?? 0) + Number(row.calls);
  }
  return out;
}
