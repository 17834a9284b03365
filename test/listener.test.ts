/**
 * The LISTEN connection's announcement (the recorder's first mark) commits
 * with the LISTEN itself. Another session's transaction holds 300 Hydra
 * notifications uncommitted and commits the moment the listener reports it
 * listens, before anything else is sent on the new connection: the
 * announcement is heard first, then the 300. Sent as a statement of its own
 * after the LISTEN, it would follow them, and a takeover could then place
 * them against the journal by content only (journal/recorder.ts).
 * A payload over `MAX_INTERNAL_PAYLOAD` fails the connect: nothing listens.
 */
import pg from 'pg';
import { describe, expect } from 'vitest';
import { MARK_CHANNEL, MAX_INTERNAL_PAYLOAD } from '../src/db/channels.js';
import { Listener } from '../src/listener/listener.js';
import { silentLog } from '../src/log.js';
import { until } from './support/clients.js';
import { test } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';

describe("the LISTEN connection's announcement", () => {
  test('is heard before what another session commits the moment the LISTEN is answered', async ({ db }) => {
    const sender = new pg.Client({ connectionString: db.url });
    await sender.connect();
    onCleanup(() => sender.end());
    await sender.query('BEGIN');
    await sender.query(`SELECT pg_notify('build_started', i::text) FROM generate_series(1, 300) AS i`);

    const heard: string[] = [];
    let committed: Promise<unknown> | null = null;
    const listener = new Listener({
      connection: { connectionString: db.url },
      log: silentLog,
      announce: () => ({ channel: MARK_CHANNEL, payload: 'listener-test:1' }),
      onNotification: (channel, payload) => heard.push(`${channel} ${payload}`),
      // The first thing the test does once the LISTEN is answered: commit the held notifications.
      onListening: () => void (committed = sender.query('COMMIT')),
    });
    onCleanup(() => listener.stop());
    await listener.start();
    await committed;
    await until(() => heard.length === 301, 10_000, 'the mark and the 300');
    expect(heard[0]).toBe(`${MARK_CHANNEL} listener-test:1`);
    expect(heard.slice(1)).toEqual(Array.from({ length: 300 }, (_, i) => `build_started ${i + 1}`));
  });

  test('over MAX_INTERNAL_PAYLOAD bytes fails the first connect, and nothing is heard', async ({ db }) => {
    const heard: string[] = [];
    const listener = new Listener({
      connection: { connectionString: db.url },
      log: silentLog,
      announce: () => ({ channel: MARK_CHANNEL, payload: 'x'.repeat(MAX_INTERNAL_PAYLOAD + 1) }),
      onNotification: (channel) => heard.push(channel),
    });
    onCleanup(() => listener.stop());
    await expect(listener.start()).rejects.toThrow(/at most 200/);
    await db.pool.query(`NOTIFY build_started, '1'`);
    expect(listener.status.connected).toBe(false);
    expect(heard).toEqual([]);
  });
});
