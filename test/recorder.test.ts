/**
 * The recorder's own rules, against the real Postgres: statements on the
 * LISTEN connection and on the recorder's connection run one at a time (a heartbeat's mark never lands inside a
 * journal transaction, and pg never sees a second query while one executes),
 * a notification heard while a batch is handed over to the reader is
 * journaled by the same flush, and a malformed build_finished is journaled as
 * received but creates nothing anywhere: no event for a subscriber, no
 * occurrence for a consumer. The `hng_journal` hint after a live event is
 * sent once this instance's subscribers were written it: the hint's
 * statement wakes a Postgres backend, which must not hold up their frames.
 */
import { parse } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import pg from 'pg';
import WebSocket from 'ws';
import { describe, expect } from 'vitest';
import { requestData, subscribeWs, until, wsClient } from './support/clients.js';
import { CREATE, PENDING } from './support/consumers.js';
import { notify, type TestDatabase } from './support/database.js';
import { recordingGateway, test } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';
import { finishBuilds, insertBuildsOneByOne } from './support/hydra.js';

/** Resolves once the journal holds `n` rows on `channel`; rejects after `timeoutMs`. */
async function untilJournaled(db: TestDatabase, channel: string, n: number, timeoutMs: number, what: string): Promise<void> {
  let count = 0;
  await until(
    () => count === n,
    timeoutMs,
    what,
    async () => {
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM hydra_notify_gateway.journal WHERE channel = $1', [channel]);
      count = Number(rows[0].n);
    },
  );
}

describe("the LISTEN and recorder's connections", () => {
  test('each run one statement at a time while heartbeats, marks and probes fire during journal transactions', async ({ db }) => {
    // Every statement sent on the gateway's LISTEN or recorder's connection while another is still executing or queued.
    const overlapping: string[] = [];
    type Internals = pg.Client & { connectionParameters: { application_name?: string }; _activeQuery: unknown; _queryQueue: unknown[] };
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: Internals, ...args: unknown[]) {
      const busy = this._activeQuery !== null && this._activeQuery !== undefined;
      const own = ['hydra-notify-gateway:listen', 'hydra-notify-gateway:record'].includes(this.connectionParameters.application_name ?? '');
      if (own && (busy || this._queryQueue.length > 0)) {
        const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
        overlapping.push(String(text).slice(0, 80));
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    onCleanup(async () => void (pg.Client.prototype.query = original));

    const gateway = await recordingGateway(db.url, { instance: 'serial', heartbeatMs: 5, listenerProbeMs: 100 });
    for (let t = 0; t < 40; t++) {
      await notify(
        db.pool,
        Array.from({ length: 50 }, (_, i) => ['build_started', String(t * 50 + i + 1)] as const),
        t % 2 ? 'function' : 'statement',
      );
    }
    await untilJournaled(db, 'build_started', 2_000, 10_000, 'every notification journaled');
    expect(overlapping).toEqual([]);
    await gateway.close();
  });
});

describe('a notification heard while the last batch is handed over', () => {
  test('is journaled at once, not at the next heartbeat', async ({ db }) => {
    // A heartbeat far away: only the flush itself can journal the second notification in time.
    const gateway = await recordingGateway(db.url, { instance: 'handover', heartbeatMs: 60_000 });
    const reader = gateway.reader;
    const committed = reader.committed.bind(reader);
    let heard = false;
    // The moment the first batch reaches this instance's reader, another notification is heard.
    reader.committed = (rows) => {
      committed(rows);
      if (heard) return;
      heard = true;
      gateway.recorder.hear('build_queued', '2', new Date());
    };
    // A channel of its own in this file's journal.
    await notify(db.pool, [['build_queued', '1']]);
    await untilJournaled(db, 'build_queued', 2, 2_000, 'both journaled');
    expect(heard).toBe(true);
    await gateway.close();
  });
});

describe('a malformed build_finished', () => {
  type Finished = { buildFinished: { buildId: number; dependentIds: number[] } };
  const FINISHED = parse('subscription { buildFinished { buildId dependentIds } }') as TypedDocumentNode<Finished, Record<string, never>>;

  test('is journaled as received and creates no event and no occurrence', async ({ db, jobsetId }) => {
    const gateway = await recordingGateway(db.url, { instance: 'strict' });
    await requestData(gateway.url, CREATE, { name: 'strict' });
    // Finished long before the consumer existed: only a notification could make them its own.
    const [a, b, c] = await insertBuildsOneByOne(db.pool, jobsetId, 3);
    await finishBuilds(db.pool, [a, b, c], { stopTime: Math.floor(Date.now() / 1000) - 600 });
    const stream = subscribeWs(wsClient(gateway.url), FINISHED);
    await until(() => gateway.hub.size > 0, 10_000, 'subscribed');

    await notify(db.pool, [['build_finished', `${a}\t${b}\tx`]]);
    await notify(db.pool, [['build_finished', String(c)]]);

    // The well-formed one, sent after, arrives first: the malformed one reached no subscriber.
    expect((await stream.nextData()).buildFinished).toEqual({ buildId: c, dependentIds: [] });
    const { rows } = await db.pool.query(
      `SELECT payload, build_id FROM hydra_notify_gateway.journal WHERE channel = 'build_finished' ORDER BY position`,
    );
    expect(rows).toEqual([
      { payload: `${a}\t${b}\tx`, build_id: null },
      { payload: String(c), build_id: c },
    ]);
    const pending = (await requestData(gateway.url, PENDING, { consumer: 'strict' })).pendingBuildFinished.edges;
    expect(pending.map((e) => e.node.id)).toEqual([c]);
    expect(gateway.pipeline.stats.malformed.get('build_finished')).toBe(1);
    stream.dispose();
    await gateway.close();
  });
});

describe("the journal's hint after a live event", () => {
  type Started = { buildStarted: { buildId: number } };
  const STARTED = parse('subscription { buildStarted { buildId } }') as TypedDocumentNode<Started, Record<string, never>>;

  // No rows in the document: the event's execution is microtasks only, done in the turn of its
  // hand-over. (One whose rows are still loading writes its frame when they arrive, and its hint
  // may go first: that costs the hint's reader nothing and the subscriber a little.)
  test("is sent after this instance's subscribers were written the event", async ({ db, jobsetId }) => {
    // What the gateway sends, in order: each event's frame to a socket, each hint on the recorder's connection.
    const sent: string[] = [];
    const originalSend = WebSocket.prototype.send;
    WebSocket.prototype.send = function (this: WebSocket, data: unknown, ...rest: unknown[]) {
      const text = String(data);
      const id = /"buildId":(\d+)/.exec(text);
      if (text.includes('"type":"next"') && id) sent.push(`frame ${id[1]}`);
      return (originalSend as (...a: unknown[]) => void).apply(this, [data, ...rest]);
    } as typeof originalSend;
    type Internals = pg.Client & { connectionParameters: { application_name?: string } };
    const originalQuery = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: Internals, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string }).text);
      const values = (Array.isArray(args[1]) ? args[1] : []) as unknown[];
      if (
        this.connectionParameters.application_name === 'hydra-notify-gateway:record' &&
        text.includes('notifyInternal') &&
        values[0] === 'hng_journal'
      )
        sent.push('hint');
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof originalQuery;
    onCleanup(async () => {
      WebSocket.prototype.send = originalSend;
      pg.Client.prototype.query = originalQuery;
    });

    const builds = await insertBuildsOneByOne(db.pool, jobsetId, 20);
    const gateway = await recordingGateway(db.url, { instance: 'hint-order' });
    const stream = subscribeWs(wsClient(gateway.url), STARTED);
    await until(() => gateway.hub.size > 0, 10_000, 'subscribed');
    sent.length = 0;
    // One at a time, as Hydra's queue runner starts builds: each write is the last of its flush.
    for (const [i, id] of builds.entries()) {
      await notify(db.pool, [['build_started', String(id)]]);
      expect((await stream.nextData()).buildStarted.buildId).toBe(id);
      await until(() => sent.filter((s) => s === 'hint').length === i + 1, 5_000, `the hint after build ${id}`);
    }
    expect(sent).toEqual(builds.flatMap((id) => [`frame ${id}`, 'hint']));
    stream.dispose();
    await gateway.close();
  });
});
