/**
 * The gateway's own notifications: `notifyInternal` refuses a payload longer
 * than `MAX_INTERNAL_PAYLOAD` bytes (UTF-8 bytes, not characters) before
 * sending anything. Checked on a real pool, with another connection
 * LISTENing on the channel: after the refused calls a small valid marker is
 * sent, and it is the only notification that arrives (one session's
 * notifications arrive in order, so a refused one sent anyway would come
 * first). A payload of exactly the limit is sent intact.
 */
import pg from 'pg';
import { describe, expect } from 'vitest';
import type { Queryable } from '../src/db/queryable.js';
import { CONSUMER_CHANNEL, MAX_INTERNAL_PAYLOAD, notifyInternal } from '../src/db/channels.js';
import { until } from './support/clients.js';
import type { TestDatabase } from './support/database.js';
import { test as base } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';

/** Payloads heard on CONSUMER_CHANNEL, in order, by a connection of its own LISTENing on it. */
const test = base.extend('heard', { scope: 'file' }, async ({ db }): Promise<string[]> => {
  const heard: string[] = [];
  const listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  onCleanup(() => listener.end());
  listener.on('notification', (n) => {
    if (n.channel === CONSUMER_CHANNEL) heard.push(n.payload ?? '');
  });
  await listener.query(`LISTEN ${CONSUMER_CHANNEL}`);
  return heard;
});

/** The pool, counting the statements sent through it. */
function counting(pool: pg.Pool): Queryable & { sent: number } {
  const spy = {
    sent: 0,
    query: (text: string, values?: unknown[]) => {
      spy.sent++;
      return pool.query(text, values);
    },
  };
  return spy;
}

/** Sends `marker` and resolves once it was heard. */
async function sendMarker(db: TestDatabase, heard: string[], marker: string): Promise<void> {
  await notifyInternal(db.pool, CONSUMER_CHANNEL, marker);
  await until(() => heard.includes(marker), 10_000, `marker ${marker} heard`);
}

describe('notifyInternal', () => {
  test('refuses a payload longer than MAX_INTERNAL_PAYLOAD bytes, sending nothing', async ({ db, heard }) => {
    heard.length = 0;
    const spy = counting(db.pool);
    await expect(notifyInternal(spy, CONSUMER_CHANNEL, 'x'.repeat(MAX_INTERNAL_PAYLOAD + 1))).rejects.toThrow(RangeError);
    // Fewer characters than the limit, more bytes: bytes count.
    const multibyte = 'é'.repeat(Math.floor(MAX_INTERNAL_PAYLOAD / 2) + 1);
    expect(multibyte.length).toBeLessThanOrEqual(MAX_INTERNAL_PAYLOAD);
    await expect(notifyInternal(spy, CONSUMER_CHANNEL, multibyte)).rejects.toThrow(
      `refusing to NOTIFY ${CONSUMER_CHANNEL} with ${Buffer.byteLength(multibyte)} bytes (at most ${MAX_INTERNAL_PAYLOAD})`,
    );
    expect(spy.sent).toBe(0);

    await sendMarker(db, heard, 'marker-1');
    expect(heard).toEqual(['marker-1']);
  });

  test('sends a payload of exactly MAX_INTERNAL_PAYLOAD bytes intact', async ({ db, heard }) => {
    heard.length = 0;
    const atLimit = 'é'.repeat(Math.floor(MAX_INTERNAL_PAYLOAD / 2)) + 'x'.repeat(MAX_INTERNAL_PAYLOAD % 2);
    expect(Buffer.byteLength(atLimit)).toBe(MAX_INTERNAL_PAYLOAD);
    await notifyInternal(db.pool, CONSUMER_CHANNEL, atLimit);
    await sendMarker(db, heard, 'marker-2');
    expect(heard).toEqual([atLimit, 'marker-2']);
  });
});
