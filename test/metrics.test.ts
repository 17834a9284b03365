/**
 * `/metrics` as Prometheus scrapes it, over real HTTP from a real gateway on a
 * real Postgres: a valid exposition (checked line by line) with
 * hydra-notify's names exactly as it spells them (no `_total`) and the
 * process metrics; notifications counted by channel, with their runtime to
 * publication; malformed ones counted as errors; deliveries and their lag by
 * transport; subscriptions and connections by transport; acknowledgements by
 * outcome; every consumer's backlog and the age of its oldest pending
 * finish; the journal's position, head and ages; which instance records; and
 * the database read at most once per cache window. The README documents
 * every metric served. Listener reconnects, recovered build_finished and gaps
 * are asserted in reconnect.test.ts, SLOW_CONSUMER endings in
 * slow-consumer.test.ts.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect } from 'vitest';
import { BuildQueuedDocument, BuildStartedDocument } from '../src/client/generated/operations.js';
import { requestData, subscribeSse, subscribeWs, until, wsClient } from './support/clients.js';
import { ACK, CREATE, caughtUp, finishAndNotify, iso, PENDING } from './support/consumers.js';
import { notify } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import { startTestGateway } from './support/gateway.js';
import { insertBuilds } from './support/hydra.js';
import { scrape } from './support/prometheus.js';

// Every scrape reads the database afresh, so each test sees what it just did.
const test = fixtures({ metricsCacheMs: 0 });

const hydraNotifyNames = {
  notify_event: 'counter',
  notify_event_error: 'counter',
  notify_event_runtime: 'histogram',
  event_received: 'counter',
};

describe('/metrics', () => {
  test("is a valid exposition with hydra-notify's names, without _total, and the process metrics", async ({ gateway }) => {
    const metrics = await scrape(gateway.url);
    expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const [name, type] of Object.entries(hydraNotifyNames)) {
      expect(metrics.families.get(name)?.type, name).toBe(type);
      expect(metrics.families.has(`${name}_total`), `${name}_total`).toBe(false);
    }
    // Every Hydra channel is there from the start, so rate() works from the first notification.
    expect(metrics.text).toMatch(/^notify_event\{channel="build_finished"\} 0$/m);
    expect(metrics.text).toMatch(/^notify_event_error\{channel="eval_started"\} 0$/m);
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(metrics.families.has(name), name).toBe(true);
    }
  });

  test('counts every garbage collection, several in a row included', async ({ gateway }) => {
    // The gateway runs in this process: its collections are this process's.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    const minor = (metrics: Awaited<ReturnType<typeof scrape>>) => metrics.value('nodejs_gc_duration_seconds_count', { kind: 'minor' });
    const before = minor(await scrape(gateway.url));
    // Node hands back-to-back collections to an observer in one call.
    for (let i = 0; i < 20; i++) gc({ type: 'minor' });
    let now = before;
    await until(
      () => now >= before + 20,
      5_000,
      'twenty more scavenges counted',
      async () => void (now = minor(await scrape(gateway.url))),
    );
  });

  test('counts notifications by channel, their runtime to publication, and their deliveries and lag by transport', async ({
    db,
    gateway,
  }) => {
    const ws = subscribeWs(wsClient(gateway.url), BuildQueuedDocument);
    const sse = subscribeSse(gateway.url, BuildQueuedDocument);
    await until(() => gateway.hub.size >= 2, 10_000, 'two subscriptions');
    const before = await scrape(gateway.url);

    const n = 5;
    await notify(
      db.pool,
      Array.from({ length: n }, (_, i) => ['build_queued', String(1_000 + i)] as const),
    );
    for (const stream of [ws, sse])
      expect((await stream.take(n)).map((d) => d.buildQueued.buildId)).toEqual([1000, 1001, 1002, 1003, 1004]);

    const after = await scrape(gateway.url);
    const rise = (name: string, labels?: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(rise('notify_event', { channel: 'build_queued' })).toBe(n);
    expect(rise('notify_event', { channel: 'build_started' })).toBe(0);
    expect(rise('event_received')).toBe(n);
    expect(rise('notify_event_runtime_count', { channel: 'build_queued' })).toBe(n);
    expect(after.value('notify_event_runtime_sum', { channel: 'build_queued' })).toBeGreaterThan(0);
    expect(rise('hng_events_published_total', { channel: 'build_queued' })).toBe(n);
    for (const transport of ['ws', 'sse']) {
      expect(rise('hng_deliveries_total', { channel: 'build_queued', transport }), transport).toBe(n);
      expect(rise('hng_delivery_lag_seconds_count', { transport }), transport).toBe(n);
      // Received, journaled, read back and written within the minute after which a subscriber is cut.
      expect(rise('hng_delivery_lag_seconds_bucket', { transport, le: '60' }), transport).toBe(n);
    }
  });

  test('counts a malformed payload as notify_event_error of its channel, never delivered', async ({ db, gateway }) => {
    const stream = subscribeWs(wsClient(gateway.url), BuildStartedDocument);
    await until(() => gateway.hub.size >= 1, 10_000, 'a subscription');
    const before = await scrape(gateway.url);
    await notify(db.pool, [
      ['build_started', 'not-a-build'],
      ['build_started', '7'],
    ]);
    // The pipeline takes rows in order: once 7 is delivered, the malformed one was dropped.
    expect((await stream.nextData()).buildStarted.buildId).toBe(7);
    const after = await scrape(gateway.url);
    expect(
      after.value('notify_event_error', { channel: 'build_started' }) - before.value('notify_event_error', { channel: 'build_started' }),
    ).toBe(1);
    expect(after.value('notify_event', { channel: 'build_started' }) - before.value('notify_event', { channel: 'build_started' })).toBe(2);
    expect(after.value('hng_deliveries_total', { channel: 'build_started', transport: 'ws' })).toBe(
      before.value('hng_deliveries_total', { channel: 'build_started', transport: 'ws' }) + 1,
    );
  });

  test('shows subscriptions and connections by transport, and their end', async ({ db, gateway }) => {
    const before = await scrape(gateway.url);
    const held = gateway.hub.size;
    const client = wsClient(gateway.url);
    const streams = [
      subscribeWs(client, BuildQueuedDocument),
      subscribeWs(client, BuildStartedDocument),
      subscribeSse(gateway.url, BuildQueuedDocument),
    ];
    await until(() => gateway.hub.size >= held + 3, 10_000, 'three subscriptions');
    // Each has delivered an event, so each is counted by now.
    await notify(db.pool, [
      ['build_queued', '1'],
      ['build_started', '1'],
    ]);
    for (const stream of streams) await stream.next();

    const open = await scrape(gateway.url);
    expect(open.value('hng_subscriptions', { transport: 'ws' })).toBe(before.value('hng_subscriptions', { transport: 'ws' }) + 2);
    expect(open.value('hng_subscriptions', { transport: 'sse' })).toBe(before.value('hng_subscriptions', { transport: 'sse' }) + 1);
    expect(open.value('hng_connections', { transport: 'ws' })).toBe(before.value('hng_connections', { transport: 'ws' }) + 1);
    expect(open.value('hng_connections', { transport: 'sse' })).toBe(before.value('hng_connections', { transport: 'sse' }) + 1);

    for (const stream of streams) stream.dispose();
    await client.dispose();
    let closed = open;
    await until(
      () =>
        closed.value('hng_subscriptions', { transport: 'ws' }) === before.value('hng_subscriptions', { transport: 'ws' }) &&
        closed.value('hng_subscriptions', { transport: 'sse' }) === before.value('hng_subscriptions', { transport: 'sse' }) &&
        closed.value('hng_connections', { transport: 'ws' }) === before.value('hng_connections', { transport: 'ws' }),
      10_000,
      'subscriptions and connections back to where they were',
      async () => void (closed = await scrape(gateway.url)),
    );
  });

  test("counts acknowledgements by outcome, and shows each consumer's backlog and the age of its oldest finish", async ({
    db,
    gateway,
    jobsetId,
  }) => {
    await requestData(gateway.url, CREATE, { name: 'metrics-backlog' });
    const before = await scrape(gateway.url);
    expect(before.value('hng_consumer_backlog', { consumer: 'metrics-backlog' })).toBe(0);
    expect(before.value('hng_consumer_paused', { consumer: 'metrics-backlog' })).toBe(0);

    const ids = await insertBuilds(db.pool, jobsetId, 3);
    const finishedAt = Math.floor(Date.now() / 1000) - 120;
    await finishAndNotify(db.pool, ids, finishedAt);
    await caughtUp(db, gateway);
    expect((await requestData(gateway.url, PENDING, { consumer: 'metrics-backlog' })).pendingBuildFinished.edges).toHaveLength(3);

    const pending = await scrape(gateway.url);
    expect(pending.value('hng_consumer_backlog', { consumer: 'metrics-backlog' })).toBe(3);
    const age = pending.value('hng_consumer_oldest_pending_age_seconds', { consumer: 'metrics-backlog' });
    expect(age).toBeGreaterThanOrEqual(120);
    expect(age).toBeLessThan(120 + 60);

    const ack = (buildId: number, pendingSince: number, consumer?: string) =>
      requestData(gateway.url, ACK, { buildId, pendingSince: iso(pendingSince), ...(consumer ? { consumer } : {}) });
    expect((await ack(ids[0]!, finishedAt, 'metrics-backlog')).acknowledgeBuildFinished.outcome).toBe('ACKNOWLEDGED');
    expect((await ack(ids[0]!, finishedAt, 'metrics-backlog')).acknowledgeBuildFinished.outcome).toBe('ALREADY_ACKNOWLEDGED');
    // On Hydra's own column, with a finish that is not the pending one.
    expect((await ack(ids[1]!, finishedAt - 1)).acknowledgeBuildFinished.outcome).toBe('STALE');

    const after = await scrape(gateway.url);
    const rise = (outcome: string) =>
      after.value('hng_acknowledgements_total', { outcome }) - before.value('hng_acknowledgements_total', { outcome });
    expect(rise('ACKNOWLEDGED')).toBe(1);
    expect(rise('ALREADY_ACKNOWLEDGED')).toBe(1);
    expect(rise('STALE')).toBe(1);
    expect(rise('NOT_FOUND')).toBe(0);
    expect(after.value('hng_consumer_backlog', { consumer: 'metrics-backlog' })).toBe(2);
  });

  test('shows the journal position, its head and ages, and that this instance records', async ({ db, gateway }) => {
    await caughtUp(db, gateway);
    const metrics = await scrape(gateway.url);
    const head = metrics.value('hng_journal_head_position');
    expect(head).toBeGreaterThan(0);
    expect(metrics.value('hng_journal_position')).toBe(head);
    expect(metrics.value('hng_journal_lag')).toBe(0);
    expect(metrics.value('hng_journal_newest_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(metrics.value('hng_journal_newest_age_seconds')).toBeLessThan(30);
    // The recorder beats every HNG_HEARTBEAT_MS (2 s).
    expect(metrics.families.get('hng_recorder_heartbeat_age_seconds')?.samples[0]?.value).toBeLessThan(10);
    expect(metrics.value('hng_recording', { instance: gateway.instance })).toBe(1);
    expect(metrics.value('hng_listener_connected')).toBe(1);
  });

  test('a second instance does not record, and reads the database at most once per cache window', async ({ db, gateway }) => {
    const second = await startTestGateway(db.url, { instance: 'metrics-second', metricsCacheMs: 60_000 });
    const first = await scrape(second.url);
    expect(first.value('hng_recording', { instance: 'metrics-second' })).toBe(0);
    expect(first.families.get('hng_consumer_backlog')?.samples.some((s) => s.labels.consumer === 'metrics-cached')).toBe(false);

    await requestData(gateway.url, CREATE, { name: 'metrics-cached' });
    // The first gateway reads afresh; the second answers from the read it made a moment ago.
    expect(
      (await scrape(gateway.url)).families.get('hng_consumer_backlog')?.samples.some((s) => s.labels.consumer === 'metrics-cached'),
    ).toBe(true);
    const scrapes = await Promise.all(Array.from({ length: 10 }, () => scrape(second.url)));
    for (const again of scrapes) {
      expect(again.families.get('hng_consumer_backlog')?.samples.some((s) => s.labels.consumer === 'metrics-cached')).toBe(false);
    }
  });

  test('is documented: the README lists every metric the gateway serves', async ({ gateway }) => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Metrics'), readme.indexOf('### Logs'));
    const documented = [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]).sort();
    const served = [...(await scrape(gateway.url)).families.keys()].filter((name) => !/^(process|nodejs)_/.test(name)).sort();
    expect(served.length).toBeGreaterThan(20);
    expect(documented).toEqual(served);
    expect(section).toContain('| `process_*`, `nodejs_*` |');
  });
});
