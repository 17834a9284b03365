/**
 * Owner mode beside a process that clears Hydra's column the way
 * hydra-notify does (LISTEN build_finished, then a plain UPDATE of the build
 * and every dependent it names), as when both run during a migration: the
 * consumers do not depend on the column. Two consumers each receive every
 * occurrence (a failing build's dependents each their own), acknowledge
 * them compare-and-set on their own occurrences, one's acknowledgements
 * leaving the other's pending set alone, and end with nothing pending; the
 * gateway's clearing, finding the column already cleared, is a no-op, not an
 * error. The batch form for a consumer answers item by item.
 */
import { describe, expect } from 'vitest';
import { clearFullyAcknowledged } from '../src/consumers/queries/acknowledge.js';
import { request, requestData, subscribeWs, until, wsClient } from './support/clients.js';
import { ACK, ACK_BATCH, CONSUME, CREATE, caughtUp, finishAndNotify, iso, PENDING, pendingColumn } from './support/consumers.js';
import { notify } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import type { TestGateway } from './support/gateway.js';
import { WARN_OR_ERROR } from './support/logs.js';
import { finishBuilds, insertBuildsOneByOne, startHydraNotify } from './support/hydra.js';

const test = fixtures({ instance: 'owner-beside-hydra-notify', mode: 'owner' })
  /** The stand-in for hydra-notify: the builds it cleared, and what went wrong doing it. */
  .extend('hydraNotify', { scope: 'file' }, async ({ db }) => startHydraNotify(db.url));

// Each test starts without consumers.
test.afterEach(async ({ db }) => {
  await db.pool.query('DELETE FROM hydra_notify_gateway.consumers');
});

const pendingOf = async (gateway: TestGateway, consumer?: string) =>
  (await requestData(gateway.url, PENDING, consumer === undefined ? {} : { consumer })).pendingBuildFinished.edges;

/** Errors the gateway logged (a failed clearing would be masked to the client, and logged). */
const errorsLogged = (gateway: TestGateway) => gateway.logs.filter((line) => WARN_OR_ERROR.test(line));

describe('owner mode beside hydra-notify', () => {
  test('every consumer receives and acknowledges every occurrence, dependents included; clearing a cleared column is a no-op', async ({
    db,
    gateway,
    jobsetId,
    hydraNotify,
  }) => {
    await requestData(gateway.url, CREATE, { name: 'one' });
    await requestData(gateway.url, CREATE, { name: 'two' });
    const client = wsClient(gateway.url);
    const streams = { one: subscribeWs(client, CONSUME, { consumer: 'one' }), two: subscribeWs(client, CONSUME, { consumer: 'two' }) };

    const [a, failing, dep1, dep2] = await insertBuildsOneByOne(db.pool, jobsetId, 4);
    const t0 = Math.floor(Date.now() / 1000) - 100;
    await finishAndNotify(db.pool, [a], t0);
    // A failing build and the dependents that fail with it, announced in one build_finished.
    await finishBuilds(db.pool, [failing], { status: 1, stopTime: t0 + 1 });
    await finishBuilds(db.pool, [dep1, dep2], { status: 2, stopTime: t0 + 1 });
    await notify(db.pool, [['build_finished', `${failing}\t${failing}\t${dep1}\t${dep2}`]]);
    await until(() => [a, failing, dep1, dep2].every((id) => hydraNotify.cleared.has(id)), 10_000, 'hydra-notify cleared the column');
    for (const id of [a, failing, dep1, dep2]) expect(await pendingColumn(db.pool, id)).toBeNull();

    const expected = [
      { buildId: a, pendingSince: iso(t0) },
      { buildId: failing, pendingSince: iso(t0 + 1) },
      { buildId: dep1, pendingSince: iso(t0 + 1) },
      { buildId: dep2, pendingSince: iso(t0 + 1) },
    ];
    const received = {
      one: (await streams.one.take(4)).map((r) => r.buildFinished),
      two: (await streams.two.take(4)).map((r) => r.buildFinished),
    };
    for (const consumer of ['one', 'two'] as const) {
      expect(received[consumer].map(({ buildId, pendingSince }) => ({ buildId, pendingSince }))).toEqual(expected);
      expect(received[consumer].every((r) => r.consumer === consumer && r.build.finished)).toBe(true);
    }

    // Compare-and-set on the consumer's own occurrence: another pendingSince acknowledges nothing.
    expect(
      (await requestData(gateway.url, ACK, { buildId: a, pendingSince: iso(t0 - 5), consumer: 'one' })).acknowledgeBuildFinished,
    ).toEqual({ outcome: 'STALE', pendingSince: iso(t0) });

    for (const r of received.one) {
      expect(
        (await requestData(gateway.url, ACK, { buildId: r.buildId, pendingSince: r.pendingSince, consumer: 'one' }))
          .acknowledgeBuildFinished,
      ).toEqual({ outcome: 'ACKNOWLEDGED', pendingSince: null });
    }
    expect(await pendingOf(gateway, 'one')).toEqual([]);
    // One consumer's acknowledgements leave the other's occurrences pending.
    expect((await pendingOf(gateway, 'two')).map((e) => ({ buildId: e.node.id, pendingSince: e.pendingSince }))).toEqual(expected);

    // The last consumer's acknowledgements make the gateway clear the column: already NULL, nothing to do, no error.
    for (const r of received.two) {
      expect(
        (await requestData(gateway.url, ACK, { buildId: r.buildId, pendingSince: r.pendingSince, consumer: 'two' }))
          .acknowledgeBuildFinished,
      ).toEqual({ outcome: 'ACKNOWLEDGED', pendingSince: null });
    }
    expect(await pendingOf(gateway, 'one')).toEqual([]);
    expect(await pendingOf(gateway, 'two')).toEqual([]);
    expect(await pendingOf(gateway)).toEqual([]);
    expect(await clearFullyAcknowledged(db.pool, [{ buildId: a, pendingSince: t0 }])).toEqual([]);
    for (const id of [a, failing, dep1, dep2]) expect(await pendingColumn(db.pool, id)).toBeNull();

    // Without a consumer, Hydra's column: hydra-notify got there first.
    expect((await requestData(gateway.url, ACK, { buildId: a, pendingSince: iso(t0) })).acknowledgeBuildFinished).toEqual({
      outcome: 'ALREADY_ACKNOWLEDGED',
      pendingSince: null,
    });
    expect(hydraNotify.errors).toEqual([]);
    expect(errorsLogged(gateway)).toEqual([]);
  });

  test('the batch form answers item by item: ACKNOWLEDGED, ALREADY_ACKNOWLEDGED, and null with NOT_FOUND at its index', async ({
    db,
    gateway,
    jobsetId,
    hydraNotify,
  }) => {
    await requestData(gateway.url, CREATE, { name: 'batcher' });
    const [x, y] = await insertBuildsOneByOne(db.pool, jobsetId, 2);
    const since = await finishAndNotify(db.pool, [x, y]);
    await until(() => hydraNotify.cleared.has(x) && hydraNotify.cleared.has(y), 10_000, 'hydra-notify cleared the column');
    await caughtUp(db, gateway);
    expect(
      (await requestData(gateway.url, ACK, { buildId: x, pendingSince: iso(since), consumer: 'batcher' })).acknowledgeBuildFinished.outcome,
    ).toBe('ACKNOWLEDGED');

    const { rows } = await db.pool.query('SELECT max(id) + 1000 AS id FROM builds');
    const unknown = Number(rows[0].id);
    const result = await request(gateway.url, ACK_BATCH, {
      consumer: 'batcher',
      items: [
        { buildId: y, pendingSince: iso(since) },
        { buildId: x, pendingSince: iso(since) },
        { buildId: unknown, pendingSince: iso(since) },
      ],
    });
    expect(result.data?.acknowledgeBuildsFinished).toEqual([
      { buildId: y, outcome: 'ACKNOWLEDGED', pendingSince: null },
      { buildId: x, outcome: 'ALREADY_ACKNOWLEDGED', pendingSince: null },
      null,
    ]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]).toMatchObject({
      path: ['acknowledgeBuildsFinished', 2],
      extensions: { code: 'NOT_FOUND', buildId: unknown },
    });
    expect(await pendingOf(gateway, 'batcher')).toEqual([]);
    expect(hydraNotify.errors).toEqual([]);
    expect(errorsLogged(gateway)).toEqual([]);
  });
});
