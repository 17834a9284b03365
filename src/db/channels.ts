/**
 * The gateway's own NOTIFY channels, beside Hydra's, on the same database.
 *
 * Contract: every instance LISTENs on them (listener/listener.ts); none is
 * journaled or shown to clients. They carry hints between instances, never
 * data: the tables stay the truth, a hint only makes the receiver look.
 * Payloads stay far below Postgres's 8000-byte limit (`MAX_INTERNAL_PAYLOAD`),
 * which `notifyInternal` and `notifyInternalStatement` enforce. A NOTIFY sent
 * inside a transaction is delivered at its COMMIT, so a hint sent with a
 * change never arrives before it.
 */
import pg from 'pg';
import type { Queryable } from './queryable.js';

/** A reference point in the notification stream: payload `<instance>:<n>` (see journal/backlog.ts). */
export const MARK_CHANNEL = 'hng_mark';
/** The recorder journaled rows up to a position: payload the position, or `takeover`. */
export const JOURNAL_CHANNEL = 'hng_journal';
/** A consumer's occurrences may be claimable (redelivery, pause, resume, removal, reconciliation, released leases): payload the consumer name. */
export const CONSUMER_CHANNEL = 'hng_consumer';

/** A token was revoked: payload its id. Every instance ends its connections at once. */
export const TOKEN_CHANNEL = 'hng_token';

/** A webhook changed (created, enabled, pinged, redelivered): payload its name. Its deliverer looks at once. */
export const WEBHOOK_CHANNEL = 'hng_webhook';

/** A readiness probe (/readyz): payload a nonce, heard back by the instance that sent it. */
export const READY_CHANNEL = 'hng_ready';

/** Every internal channel. */
export const INTERNAL_CHANNELS = [MARK_CHANNEL, JOURNAL_CHANNEL, CONSUMER_CHANNEL, TOKEN_CHANNEL, WEBHOOK_CHANNEL, READY_CHANNEL] as const;

/** An internal channel. */
export type InternalChannel = (typeof INTERNAL_CHANNELS)[number];

/** Longest payload the gateway sends on its own channels. */
export const MAX_INTERNAL_PAYLOAD = 200;

/**
 * Sends a notification on one of the gateway's own channels.
 * @throws RangeError when the payload is longer than `MAX_INTERNAL_PAYLOAD` (far below Postgres's 8000 bytes).
 */
export async function notifyInternal(db: Queryable, channel: InternalChannel, payload: string): Promise<void> {
  checkPayload(channel, payload);
  await db.query('/* notifyInternal */ SELECT pg_notify($1, $2)', [channel, payload]);
}

/**
 * The same notification as a statement to append to a simple (multi-statement)
 * query, which has no placeholders: its literals are escaped. It commits with
 * the statements beside it.
 * @throws RangeError as `notifyInternal`.
 */
export function notifyInternalStatement(channel: InternalChannel, payload: string): string {
  checkPayload(channel, payload);
  return `SELECT pg_notify(${pg.escapeLiteral(channel)}, ${pg.escapeLiteral(payload)});`;
}

function checkPayload(channel: InternalChannel, payload: string): void {
  if (Buffer.byteLength(payload) > MAX_INTERNAL_PAYLOAD) {
    throw new RangeError(`refusing to NOTIFY ${channel} with ${Buffer.byteLength(payload)} bytes (at most ${MAX_INTERNAL_PAYLOAD})`);
  }
}
