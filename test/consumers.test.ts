/**
 * Named consumers of build_finished: each has its own pending set, fed by the
 * journal and reconciled with Hydra's builds table, so occurrences that
 * finished while it (or the whole gateway) was offline are delivered when it
 * comes back; deliveries are leased and come again after the visibility
 * timeout, on reconnect, or on demand; acknowledgement is compare-and-set per
 * consumer; `owner` mode clears Hydra's column once every active consumer
 * acknowledged, `observer` mode never writes it, beside a process that clears
 * it the way hydra-notify does.
 */
import { describe, expect } from 'vitest';
import { request, requestData, subscribeWs, until, wsClient } from './support/clients.js';
import {
  ACK,
  ACK_BATCH,
  CONSUME,
  CREATE,
  caughtUp,
  doc,
  type Finished,
  finishAndNotify,
  iso,
  PAUSE,
  PENDING,
  pendingColumn,
  REMOVE,
  RESUME,
} from './support/consumers.js';
import { notify } from './support/database.js';
import { recordingGateway, test } from './support/fixtures.js';
import { finishBuilds, insertBuild, insertBuildsOneByOne, restartBuild, startHydraNotify } from './support/hydra.js';

const LIST = doc<{ consumers: { name: string; paused: boolean; pending: number }[] }>('{ consumers { name paused pending } }');
const REDELIVER = doc<{ redeliverBuildFinished: { buildId: number; pendingSince: string } }, { consumer: string; buildId: number }>(
  'mutation ($consumer: String!, $buildId: Int!) { redeliverBuildFinished(consumer: $consumer, buildId: $buildId) { buildId pendingSince } }',
);

// Each test starts without consumers, whatever the previous one left behind.
test.afterEach(async ({ db }) => {
  await db.pool.query('DELETE FROM hydra_notify_gateway.consumers');
});

describe('managing consumers', () => {
  test('creates, lists, pauses, resumes and removes, with clear errors', async ({ db }) => {
    const gateway = await recordingGateway(db.url, { instance: 'manage' });
    expect((await requestData(gateway.url, CREATE, { name: 'status-reporter' })).createConsumer).toEqual({
      name: 'status-reporter',
      paused: false,
      pending: 0,
    });
    expect((await request(gateway.url, CREATE, { name: 'status-reporter' })).errors?.[0]?.extensions?.code).toBe('ALREADY_EXISTS');
    expect((await request(gateway.url, CREATE, { name: 'Bad Name!' })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await request(gateway.url, PAUSE, { name: 'nobody' })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await requestData(gateway.url, PAUSE, { name: 'status-reporter' });
    expect((await requestData(gateway.url, LIST)).consumers).toContainEqual({ name: 'status-reporter', paused: true, pending: 0 });
    await requestData(gateway.url, RESUME, { name: 'status-reporter' });
    expect((await requestData(gateway.url, REMOVE, { name: 'status-reporter' })).removeConsumer).toBe(true);
    expect((await requestData(gateway.url, LIST)).consumers.map((c) => c.name)).not.toContain('status-reporter');
    await gateway.close();
  });
});

describe('a consumer offline, then back', () => {
  test('receives every occurrence missed while it was offline, pending first, then live, and acknowledges them', async ({
    db,
    jobsetId,
  }) => {
    const gateway = await recordingGateway(db.url, { instance: 'offline' });
    await requestData(gateway.url, CREATE, { name: 'release-sync' });
    // Offline: nobody subscribed while three builds finish (one with a dependent).
    const [a, b, c, dep] = await insertBuildsOneByOne(db.pool, jobsetId, 4);
    const t0 = Math.floor(Date.now() / 1000) - 100;
    await finishAndNotify(db.pool, [a], t0);
    await finishAndNotify(db.pool, [b], t0 + 1);
    await finishBuilds(db.pool, [c, dep], { status: 1, stopTime: t0 + 2 });
    await notify(db.pool, [['build_finished', `${c}\t${c}\t${dep}`]]);
    await caughtUp(db, gateway);

    const pending = (await requestData(gateway.url, PENDING, { consumer: 'release-sync' })).pendingBuildFinished.edges;
    expect(pending.map((e) => e.node.id)).toEqual([a, b, c, dep]);

    const stream = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'release-sync' });
    const missed = (await stream.take(4)).map((r) => r.buildFinished);
    expect(missed.map((m) => m.buildId)).toEqual([a, b, c, dep]);
    expect(missed[0]).toMatchObject({
      consumer: 'release-sync',
      deliveryCount: 1,
      pendingSince: iso(t0),
      build: { id: a, finished: true },
    });
    for (const m of missed) {
      expect(
        (await requestData(gateway.url, ACK, { buildId: m.buildId, pendingSince: m.pendingSince, consumer: 'release-sync' }))
          .acknowledgeBuildFinished.outcome,
      ).toBe('ACKNOWLEDGED');
    }
    expect(
      (await requestData(gateway.url, ACK, { buildId: a, pendingSince: iso(t0), consumer: 'release-sync' })).acknowledgeBuildFinished
        .outcome,
    ).toBe('ALREADY_ACKNOWLEDGED');
    expect((await requestData(gateway.url, PENDING, { consumer: 'release-sync' })).pendingBuildFinished.edges).toEqual([]);

    // Live now: a new finish arrives on the same subscription.
    const d = await insertBuild(db.pool, jobsetId);
    const sinceD = await finishAndNotify(db.pool, [d], t0 + 3);
    expect((await stream.nextData()).buildFinished).toMatchObject({ buildId: d, pendingSince: iso(sinceD), deliveryCount: 1 });
    expect(
      (await requestData(gateway.url, ACK, { buildId: d, pendingSince: iso(sinceD), consumer: 'release-sync' })).acknowledgeBuildFinished
        .outcome,
    ).toBe('ACKNOWLEDGED');
    stream.dispose();
    await requestData(gateway.url, REMOVE, { name: 'release-sync' });
    await gateway.close();
  });

  test('receives what finished while the whole gateway was down, reconciled from Hydra', async ({ db, jobsetId }) => {
    let gateway = await recordingGateway(db.url, { instance: 'down-1' });
    await requestData(gateway.url, CREATE, { name: 'chat-bot' });
    await gateway.close();
    // Nobody listens: the finish and its NOTIFY happen, and the NOTIFY is lost.
    const lost = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [lost], Math.floor(Date.now() / 1000) + 1);
    gateway = await recordingGateway(db.url, { instance: 'down-2' });
    const stream = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'chat-bot' });
    const { buildFinished } = await stream.nextData();
    expect(buildFinished).toMatchObject({ buildId: lost, pendingSince: iso(since) });
    expect(
      (await requestData(gateway.url, ACK, { buildId: lost, pendingSince: iso(since), consumer: 'chat-bot' })).acknowledgeBuildFinished
        .outcome,
    ).toBe('ACKNOWLEDGED');
    stream.dispose();
    await requestData(gateway.url, REMOVE, { name: 'chat-bot' });
    await gateway.close();
  });
});

describe('a reconciliation while a subscriber waits', () => {
  test('wakes it: what Hydra finished without a NOTIFY arrives at once, not at the visibility timer', async ({ db, jobsetId }) => {
    // A visibility timeout of ten minutes: the subscription's own timer would look again after five.
    const gateway = await recordingGateway(db.url, { instance: 'reconciled-live', reconcileEveryMs: 300, visibilityTimeoutMs: 600_000 });
    await requestData(gateway.url, CREATE, { name: 'status-reporter' });
    const stream = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'status-reporter' });
    // A live finish first, so the subscription has claimed and is waiting for the next.
    const heard = await insertBuild(db.pool, jobsetId);
    const sinceHeard = await finishAndNotify(db.pool, [heard]);
    expect((await stream.nextData(10_000)).buildFinished).toMatchObject({ buildId: heard, pendingSince: iso(sinceHeard) });
    expect(
      (await requestData(gateway.url, ACK, { buildId: heard, pendingSince: iso(sinceHeard), consumer: 'status-reporter' }))
        .acknowledgeBuildFinished.outcome,
    ).toBe('ACKNOWLEDGED');

    // Hydra finishes a build and stops before its NOTIFY: only the periodic reconciliation finds it.
    const unannounced = await insertBuild(db.pool, jobsetId);
    const since = await finishBuilds(db.pool, [unannounced]);
    expect((await stream.nextData(10_000)).buildFinished).toMatchObject({
      buildId: unannounced,
      pendingSince: iso(since),
      deliveryCount: 1,
    });
    expect(
      (await requestData(gateway.url, ACK, { buildId: unannounced, pendingSince: iso(since), consumer: 'status-reporter' }))
        .acknowledgeBuildFinished.outcome,
    ).toBe('ACKNOWLEDGED');
    stream.dispose();
    await gateway.close();
  });
});

describe('two subscribers of one consumer', () => {
  test('when the one holding a delivery leaves unacknowledged, the other, already waiting, gets it at once', async ({ db, jobsetId }) => {
    // A visibility timeout of ten minutes: a subscription's own timer would look again after five.
    const gateway = await recordingGateway(db.url, { instance: 'released', visibilityTimeoutMs: 600_000 });
    await requestData(gateway.url, CREATE, { name: 'replicas' });
    const a = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'replicas' });
    const b = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'replicas' });
    await until(() => gateway.hub.size >= 2);
    const id = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [id]);
    // One of them leases it (which one is a race); the other's wait goes on. (On a loaded machine the
    // other's first claim may come after the release and pass without the hint; here it fails without.)
    const next = { a: a.nextData(10_000), b: b.nextData(10_000) };
    const holder = await Promise.any([next.a.then(() => 'a' as const), next.b.then(() => 'b' as const)]);
    (holder === 'a' ? a : b).dispose();
    expect((await next[holder === 'a' ? 'b' : 'a']).buildFinished).toMatchObject({
      buildId: id,
      pendingSince: iso(since),
      deliveryCount: 2,
    });
    expect(
      (await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'replicas' })).acknowledgeBuildFinished
        .outcome,
    ).toBe('ACKNOWLEDGED');
    (holder === 'a' ? b : a).dispose();
    await gateway.close();
  });
});

describe('finishes in the second of the creation', () => {
  const CREATED = doc<{ createConsumer: { createdAt: string } }, { name: string }>(
    'mutation ($name: String!) { createConsumer(name: $name) { createdAt } }',
  );

  test("are delivered although no gateway heard them, and acknowledging them clears Hydra's column", async ({ db, jobsetId }) => {
    let gateway = await recordingGateway(db.url, { instance: 'same-second-1' });
    const { createdAt } = (await requestData(gateway.url, CREATED, { name: 'auditor' })).createConsumer;
    // Every gateway stops in the second of the creation; builds finish in that very second (Hydra keeps whole seconds).
    await gateway.close();
    const second = Math.floor(Date.parse(createdAt) / 1000);
    const ids = await insertBuildsOneByOne(db.pool, jobsetId, 3);
    await finishAndNotify(db.pool, ids, second);

    gateway = await recordingGateway(db.url, { instance: 'same-second-2' });
    const stream = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'auditor' });
    // Earlier tests' finishes may come too (at least once: when in doubt, include); these three must.
    const got: Finished['buildFinished'][] = [];
    while (!ids.every((id) => got.some((f) => f.buildId === id))) got.push((await stream.nextData()).buildFinished);
    for (const f of got.filter((g) => ids.includes(g.buildId))) {
      const ack = await requestData(gateway.url, ACK, { buildId: f.buildId, pendingSince: iso(second), consumer: 'auditor' });
      expect(ack.acknowledgeBuildFinished.outcome).toBe('ACKNOWLEDGED');
    }
    // Owner mode, and the only consumer acknowledged: Hydra's column does not stay set forever.
    for (const id of ids) expect(await pendingColumn(db.pool, id)).toBeNull();
    stream.dispose();
    await gateway.close();
  });
});

describe('a finish from before the consumer existed', () => {
  test('is NOT_PENDING for it, and its acknowledgement changes nothing', async ({ db, jobsetId }) => {
    const gateway = await recordingGateway(db.url, { instance: 'before' });
    const id = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [id], Math.floor(Date.now() / 1000) - 600);
    await caughtUp(db, gateway);
    await requestData(gateway.url, CREATE, { name: 'latecomer' });
    const ack = await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'latecomer' });
    expect(ack.acknowledgeBuildFinished).toEqual({ outcome: 'NOT_PENDING', pendingSince: null });
    expect(await pendingColumn(db.pool, id)).toBe(since);
    const batch = await requestData(gateway.url, ACK_BATCH, { items: [{ buildId: id, pendingSince: iso(since) }], consumer: 'latecomer' });
    expect(batch.acknowledgeBuildsFinished.map((r) => r?.outcome)).toEqual(['NOT_PENDING']);
    await gateway.close();
  });
});

describe('redelivery', () => {
  test('after the visibility timeout, on reconnect, and on demand; several subscribers share occurrences', async ({ db, jobsetId }) => {
    const gateway = await recordingGateway(db.url, { instance: 'redeliver', visibilityTimeoutMs: 400 });
    await requestData(gateway.url, CREATE, { name: 'hooks' });
    const id = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [id]);

    // Not acknowledged: delivered again once the visibility timeout passed.
    const first = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'hooks' });
    expect((await first.nextData()).buildFinished).toMatchObject({ buildId: id, deliveryCount: 1 });
    expect((await first.nextData()).buildFinished).toMatchObject({ buildId: id, deliveryCount: 2 });

    // The subscriber goes away unacknowledged: the next one gets it at once, not after the timeout.
    first.dispose();
    const second = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'hooks' });
    expect((await second.nextData(2_000)).buildFinished.buildId).toBe(id);
    expect(
      (await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'hooks' })).acknowledgeBuildFinished.outcome,
    ).toBe('ACKNOWLEDGED');

    // On demand: an acknowledged occurrence comes again.
    const again = (await requestData(gateway.url, REDELIVER, { consumer: 'hooks', buildId: id })).redeliverBuildFinished;
    expect(again).toEqual({ buildId: id, pendingSince: iso(since) });
    expect((await second.nextData()).buildFinished).toMatchObject({ buildId: id, pendingSince: iso(since) });
    await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'hooks' });
    expect((await request(gateway.url, REDELIVER, { consumer: 'hooks', buildId: 2_000_000 })).errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );

    // Two subscribers of one consumer: each occurrence goes to one of them.
    const third = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'hooks' });
    await until(() => gateway.hub.size >= 2);
    const ids = await insertBuildsOneByOne(db.pool, jobsetId, 4);
    const t = await finishAndNotify(db.pool, ids);
    const got: number[] = [];
    const ackAll = async (stream: typeof second) => {
      while (got.length < ids.length) {
        const next = await stream.nextData(1_000).catch(() => null);
        if (!next) return;
        got.push(next.buildFinished.buildId);
        await requestData(gateway.url, ACK, { buildId: next.buildFinished.buildId, pendingSince: iso(t), consumer: 'hooks' });
      }
    };
    await Promise.all([ackAll(second), ackAll(third)]);
    expect(got.sort((x, y) => x - y)).toEqual(ids);
    second.dispose();
    third.dispose();
    await requestData(gateway.url, REMOVE, { name: 'hooks' });
    await gateway.close();
  });
});

describe('acknowledging for a consumer', () => {
  test('100 concurrent acknowledgements of one occurrence: exactly one ACKNOWLEDGED', async ({ db, jobsetId }) => {
    const gateway = await recordingGateway(db.url, { instance: 'concurrent' });
    await requestData(gateway.url, CREATE, { name: 'racer' });
    const id = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [id]);
    await caughtUp(db, gateway);
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, () => requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'racer' })),
    );
    const counts = outcomes
      .map((o) => o.acknowledgeBuildFinished.outcome)
      .reduce<Record<string, number>>((acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {});
    expect(counts).toEqual({ ACKNOWLEDGED: 1, ALREADY_ACKNOWLEDGED: 99 });
    // The only consumer acknowledged: in owner mode Hydra's column is cleared.
    expect(await pendingColumn(db.pool, id)).toBeNull();
    await gateway.close();
  });

  test('answers unknown consumers and builds with NOT_FOUND, bad names with BAD_USER_INPUT', async ({ db }) => {
    const gateway = await recordingGateway(db.url, { instance: 'errors' });
    await requestData(gateway.url, CREATE, { name: 'strict' });
    expect((await request(gateway.url, ACK, { buildId: 1, pendingSince: iso(1), consumer: 'ghost' })).errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
    expect(
      (await request(gateway.url, ACK, { buildId: 2_000_000, pendingSince: iso(1), consumer: 'strict' })).errors?.[0]?.extensions?.code,
    ).toBe('NOT_FOUND');
    expect((await request(gateway.url, ACK, { buildId: 1, pendingSince: iso(1), consumer: 'NO WAY' })).errors?.[0]?.extensions?.code).toBe(
      'BAD_USER_INPUT',
    );
    const stream = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'ghost' });
    expect((await stream.next()).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await gateway.close();
  });
});

describe('leaving', () => {
  test('a subscriber that leaves unacknowledged frees its subscription and its leases at once', async ({ db, jobsetId }) => {
    const gateway = await recordingGateway(db.url, { instance: 'leaving', visibilityTimeoutMs: 60_000 });
    await requestData(gateway.url, CREATE, { name: 'flaky' });
    const id = await insertBuild(db.pool, jobsetId);
    await finishAndNotify(db.pool, [id]);
    const before = gateway.hub.size;
    const first = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'flaky' });
    expect((await first.nextData()).buildFinished).toMatchObject({ buildId: id, deliveryCount: 1 });
    first.dispose();
    await until(() => gateway.hub.size === before, 5_000, 'subscription freed');
    // Long before the visibility timeout: the lease was released with the subscription.
    const second = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'flaky' });
    expect((await second.nextData(5_000)).buildFinished).toMatchObject({ buildId: id, deliveryCount: 2 });
    await gateway.close();
  });
});

describe('modes', () => {
  test("owner: Hydra's column is cleared once every active consumer acknowledged; stale acknowledgements stay stale", async ({
    db,
    jobsetId,
  }) => {
    const gateway = await recordingGateway(db.url, { instance: 'owner', mode: 'owner' });
    await requestData(gateway.url, CREATE, { name: 'one' });
    await requestData(gateway.url, CREATE, { name: 'two' });
    await requestData(gateway.url, CREATE, { name: 'three' });
    const id = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [id]);
    await caughtUp(db, gateway);
    await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'one' });
    expect(await pendingColumn(db.pool, id)).toBe(since);
    // A paused consumer does not hold the column back.
    await requestData(gateway.url, PAUSE, { name: 'three' });
    expect(await pendingColumn(db.pool, id)).toBe(since);
    await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'two' });
    expect(await pendingColumn(db.pool, id)).toBeNull();
    // Restarted and finished again: the old occurrence's acknowledgement does not touch the new one.
    await restartBuild(db.pool, id);
    const later = await finishAndNotify(db.pool, [id], since + 100);
    await caughtUp(db, gateway);
    expect(
      (await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'two' })).acknowledgeBuildFinished,
    ).toEqual({
      outcome: 'ALREADY_ACKNOWLEDGED',
      pendingSince: iso(later),
    });
    expect(
      (await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'three' })).acknowledgeBuildFinished,
    ).toMatchObject({ outcome: 'ACKNOWLEDGED' });
    expect(await pendingColumn(db.pool, id)).toBe(later);
    // Both active consumers acknowledge concurrently: the column is still cleared.
    await Promise.all(['one', 'two'].map((consumer) => requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(later), consumer })));
    expect(await pendingColumn(db.pool, id)).toBeNull();
    for (const name of ['one', 'two', 'three']) await requestData(gateway.url, REMOVE, { name });
    await gateway.close();
  });

  test('observer: beside a hydra-notify that clears the column, consumers keep their own pending sets and the gateway never writes it', async ({
    db,
    jobsetId,
  }) => {
    const gateway = await recordingGateway(db.url, { instance: 'observer', mode: 'observer' });
    await requestData(gateway.url, CREATE, { name: 'watcher' });

    const hydraNotify = await startHydraNotify(db.url);

    const id = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [id]);
    await until(() => hydraNotify.cleared.has(id), 10_000, 'hydra-notify cleared the column');
    await caughtUp(db, gateway);
    expect(await pendingColumn(db.pool, id)).toBeNull();

    // The consumer still has its occurrence, with the finish's time, and acknowledges it.
    const pending = (await requestData(gateway.url, PENDING, { consumer: 'watcher' })).pendingBuildFinished.edges;
    expect(pending).toEqual([{ pendingSince: iso(since), node: { id } }]);
    expect(
      (await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'watcher' })).acknowledgeBuildFinished
        .outcome,
    ).toBe('ACKNOWLEDGED');

    // Without hydra-notify's clearing, the gateway still leaves the column alone.
    await hydraNotify.stop();
    const other = await insertBuild(db.pool, jobsetId);
    const otherSince = await finishAndNotify(db.pool, [other]);
    await caughtUp(db, gateway);
    await requestData(gateway.url, ACK, { buildId: other, pendingSince: iso(otherSince), consumer: 'watcher' });
    expect(await pendingColumn(db.pool, other)).toBe(otherSince);
    const refused = await request(gateway.url, ACK, { buildId: other, pendingSince: iso(otherSince) });
    expect(refused.errors?.[0]?.extensions?.code).toBe('OBSERVER_MODE');
    expect(await pendingColumn(db.pool, other)).toBe(otherSince);
    await requestData(gateway.url, REMOVE, { name: 'watcher' });
    await gateway.close();
  });
});
