/**
 * Sending one notification exactly as Hydra does, for operators and tests
 * (`hydra-notify-gateway notify`, the way Hydra's manual suggests doing it
 * with psql).
 *
 * Contract: `checkNotification` accepts only what Hydra itself could send:
 * a channel of channels.ts and a payload its rule in payloads.ts parses
 * (fields joined by one TAB), shorter than Postgres's 8000 bytes; anything
 * else is a BAD_USER_INPUT error that says what was expected. No NOTIFY is
 * sent then. `sendNotification` sends it as a `NOTIFY channel, 'payload'`
 * statement inside a transaction of its own, as the queue runner does, so it
 * is delivered at that COMMIT to every listener, like Hydra's. The channel is
 * inlined only after it matched the table; the payload is a quoted literal.
 */
import type pg from 'pg';
import { transaction } from '../db/transaction.js';
import { errors } from '../errors.js';
import { CHANNELS, type Channel, isChannel } from './channels.js';
import { type Notice, PayloadError, parsePayload } from './payloads.js';

/** Postgres refuses payloads of 8000 bytes or more. */
export const MAX_PAYLOAD_BYTES = 7_999;

/** A notification Hydra could send. */
export interface CheckedNotification {
  channel: Channel;
  payload: string;
  notice: Notice;
}

/** Checks a notification (see the module contract); BAD_USER_INPUT when Hydra would never send it. */
export function checkNotification(channel: string, payload: string): CheckedNotification {
  if (!isChannel(channel))
    throw errors.badInput(`${JSON.stringify(channel)} is not a Hydra channel; the channels are ${CHANNELS.join(', ')}`);
  if (payload.includes('\u0000')) throw errors.badInput('the payload contains a NUL byte, which Postgres cannot send');
  const bytes = Buffer.byteLength(payload);
  if (bytes > MAX_PAYLOAD_BYTES) throw errors.badInput(`the payload is ${bytes} bytes; Postgres takes at most ${MAX_PAYLOAD_BYTES}`);
  const notice = parsePayload(channel, payload);
  if (notice instanceof PayloadError) throw errors.badInput(`Hydra never sends this on ${channel}: ${notice.reason}`);
  return { channel, payload, notice };
}

/** The statement Hydra's queue runner would run: `NOTIFY channel, 'payload'` (no payload: `NOTIFY channel`). */
export function notifyStatement({ channel, payload }: CheckedNotification): string {
  return payload === '' ? `NOTIFY ${channel}` : `NOTIFY ${channel}, '${payload.replaceAll("'", "''")}'`;
}

/** Checks, then sends one notification in a transaction of its own on `session` (a connection the caller owns, not a pool: the NOTIFY must run between its BEGIN and COMMIT); resolves after COMMIT. */
export async function sendNotification(session: pg.ClientBase, channel: string, payload: string): Promise<CheckedNotification> {
  const checked = checkNotification(channel, payload);
  await transaction(session, async (tx) => {
    // So that a backslash in the literal is itself (the default since Postgres 9.1, but a setting).
    await tx.query('/* sendNotificationStrings */ SET LOCAL standard_conforming_strings = on');
    await tx.query(`/* sendNotification */ ${notifyStatement(checked)}`);
  });
  return checked;
}
