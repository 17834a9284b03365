/**
 * The database a CLI command works on: `DATABASE_URL`, or else the embedded
 * Postgres of a gateway running with the default embedded database
 * (`HNG_EMBEDDED_PG_PORT`, on loopback).
 *
 * Contract: `withDatabase` connects a small pool, checks that the gateway's
 * own schema is there and up to date (a gateway or `migrate` made it), runs the command and ends the
 * pool whatever happens. A database that cannot be reached, or that no
 * gateway ever started on, is a `CliError` that says what to do.
 */
import pg from 'pg';
import type { Config } from '../config.js';
import { embeddedConnectionString } from '../db/embedded.js';
import { pendingMigrations } from '../db/migrate.js';
import { CliError } from './errors.js';

/** The configured database: its URL, and how to name it in a message. */
export function databaseOf(config: Config): { url: string; where: string } {
  return config.databaseUrl
    ? { url: config.databaseUrl, where: 'DATABASE_URL' }
    : { url: embeddedConnectionString(config.embeddedPgPort), where: `the embedded Postgres (127.0.0.1:${config.embeddedPgPort})` };
}

/** What to add to "cannot reach" for the embedded database: how to get one. */
export function reachHint(config: Config): string {
  return config.databaseUrl ? '' : ' (is the gateway running? start it with npm start, or set DATABASE_URL)';
}

/** Runs `fn` with a pool on the configured database. */
export async function withDatabase<T>(config: Config, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const { url, where } = databaseOf(config);
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'hydra-notify-gateway:cli' });
  pool.on('error', () => {});
  try {
    try {
      await pool.query('/* cliProbe */ SELECT 1');
    } catch (error) {
      throw new CliError(`cannot reach ${where}: ${(error as Error).message}${reachHint(config)}`);
    }
    const pending = await pendingMigrations(pool);
    if (pending.length > 0) {
      throw new CliError(
        `${where} lacks migrations ${pending.join(', ')} of the hydra_notify_gateway schema: run the migrate command (or start the gateway on it once)`,
      );
    }
    return await fn(pool);
  } finally {
    await pool.end();
  }
}
