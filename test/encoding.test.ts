/**
 * A Hydra database in SQL_ASCII, as older installations may have: Postgres
 * then takes any bytes in a NOTIFY payload, and ends (FATAL, "invalid byte
 * sequence for encoding UTF8") a session whose client encoding is UTF8 when
 * a notification it must deliver is not UTF-8. The gateway's LISTEN
 * connection must not be one of those: such a payload is heard (what is not
 * UTF-8 becomes U+FFFD), journaled, dropped as malformed and counted where
 * its channel's rule refuses it, and the notifications around it arrive, on
 * the same connection, without a gap.
 */
import { test as base, describe, expect } from 'vitest';
import { subscribeWs, until, wsClient } from './support/clients.js';
import { doc } from './support/consumers.js';
import { createTestDatabase, transaction, type TestDatabase } from './support/database.js';
import { recordingGateway } from './support/fixtures.js';
import type { TestGateway } from './support/gateway.js';

const test = base
  .extend('db', { scope: 'file' }, async (): Promise<TestDatabase> => createTestDatabase({ encoding: 'SQL_ASCII' }))
  .extend('gateway', { scope: 'file' }, async ({ db }): Promise<TestGateway> => recordingGateway(db.url));

const EVENTS = doc<{ events: { channel: string; payload: string } }>('subscription { events { channel payload } }');

describe('a SQL_ASCII database', () => {
  test('a payload that is not UTF-8 is dropped as malformed; the LISTEN connection stays and nothing around it is lost', async ({
    db,
    gateway,
  }) => {
    const stream = subscribeWs(wsClient(gateway.url), EVENTS);
    await until(() => gateway.hub.size === 1, 10_000, 'subscription');
    const pid = gateway.listener.status.backendPid;

    await transaction(db.pool, async (client) => {
      await client.query(`NOTIFY build_queued, '1'`);
      await client.query(`NOTIFY build_queued, E'\\xff2'`);
      // A Latin-1 é in a trace id: the trace becomes "tr\uFFFDce", which its rule allows.
      await client.query(`NOTIFY eval_started, E'tr\\xe9ce\\t7'`);
      await client.query(`SELECT pg_notify('build_started', convert_from('\\x33fe'::bytea, 'SQL_ASCII'))`);
      await client.query(`NOTIFY build_queued, '4'`);
    });
    const received = (await stream.take(3)).map((e) => [e.events.channel, e.events.payload]);

    expect(received).toEqual([
      ['build_queued', '1'],
      ['eval_started', 'tr\uFFFDce\t7'],
      ['build_queued', '4'],
    ]);
    expect(gateway.listener.status).toMatchObject({ connected: true, reconnects: 0, backendPid: pid });
    expect(Object.fromEntries(gateway.pipeline.stats.malformed)).toEqual({ build_queued: 1, build_started: 1 });
    const { rows } = await db.pool.query(`SELECT kind, channel, payload FROM hydra_notify_gateway.journal ORDER BY position`);
    expect(rows.map((r) => [r.kind, r.channel, r.payload])).toEqual([
      ['notification', 'build_queued', '1'],
      ['notification', 'build_queued', '\uFFFD2'],
      ['notification', 'eval_started', 'tr\uFFFDce\t7'],
      ['notification', 'build_started', '3\uFFFD'],
      ['notification', 'build_queued', '4'],
    ]);
  });
});
