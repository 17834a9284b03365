/**
 * How the simulator talks to Postgres: transactions and the two ways Hydra sends a NOTIFY.
 *
 * Contract: `inTransaction` borrows one pool client for the whole callback, commits when
 * it resolves and rolls back when it throws, so every NOTIFY sent through the client is
 * delivered at that commit or never. Hydra's daemons send some notifications with
 * `select pg_notify(channel, payload)` and others with a literal `NOTIFY channel, 'payload'`
 * statement; the simulator does both so the gateway sees both. A NOTIFY statement cannot
 * take a placeholder, so `notifyStatement` only accepts payloads of digits and TABs.
 */
import type pg from 'pg';
import type { Channel } from '../hydra/channels.js';

/** Runs `work` in one transaction on a client borrowed from `pool`. */
export { inTransaction } from '../db/transaction.js';

/** Sends `payload` on `channel` with `pg_notify`, as Hydra's Perl evaluator does for most channels. */
export async function pgNotify(client: pg.ClientBase | pg.Pool, channel: Channel, payload: string): Promise<void> {
  await client.query('/* pgNotify */ select pg_notify($1, $2)', [channel, payload]);
}

const LITERAL_PAYLOAD = /^[0-9\t]*$/;
const IDENTIFIER = /^[a-z_]+$/;

/**
 * Sends `payload` on `channel` with a `NOTIFY` statement, as Hydra's queue runner does.
 * @throws when the payload holds anything but digits and TABs (it is inlined as a literal).
 */
export async function notifyStatement(client: pg.ClientBase, channel: Channel, payload: string): Promise<void> {
  if (!IDENTIFIER.test(channel)) throw new Error(`refusing to inline channel ${JSON.stringify(channel)}`);
  if (!LITERAL_PAYLOAD.test(payload)) throw new Error(`refusing to inline payload ${JSON.stringify(payload)}`);
  await client.query(`/* notifyStatement */ notify ${channel}, '${payload}'`);
}

/** The current time as Hydra stores it: integer Unix seconds. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
