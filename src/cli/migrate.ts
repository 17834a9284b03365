/**
 * A client on the configured database for `migrate`, which must work on a
 * database no gateway has started on yet (so without `withDatabase`'s check
 * for the gateway's schema).
 */
import pg from 'pg';
import type { Config } from '../config.js';
import { embeddedConnectionString } from '../db/embedded.js';
import { CliError } from './errors.js';

/** Runs `fn` with a client on DATABASE_URL (or the embedded Postgres), ended afterwards. */
export async function withDatabaseOnly<T>(config: Config, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: config.databaseUrl ?? embeddedConnectionString(config.embeddedPgPort),
    application_name: 'hydra-notify-gateway:cli',
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new CliError(`cannot reach the database: ${(error as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
