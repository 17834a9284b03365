/**
 * `build_finished` as Hydra sends it: the failing build listed among its own
 * dependents, and long payloads split into chunks (same first id, back to
 * back, disjoint dependents) that must become one event with every dependent
 * exactly once, over WebSocket and SSE alike, in delivery order with what
 * follows.
 */
import { describe, expect } from 'vitest';
import { buildFinishedPayloads } from '../src/simulator/payloads.js';
import { BuildFinishedDocument, BuildFinishedIdsDocument, BuildQueuedDocument } from '../src/client/generated/operations.js';
import { subscribeSse, subscribeWs, until, wsClient } from './support/clients.js';
import { notify } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import type { TestGateway } from './support/gateway.js';
import { finishBuilds, insertBuild, insertBuilds } from './support/hydra.js';

/** Chunks merge when the next arrives within the window: wide enough for a busy machine. */
const test = fixtures({ chunkWindowMs: 1_000 });

async function registered(gateway: TestGateway, count: number): Promise<void> {
  await until(() => gateway.hub.size >= count, 10_000, `${count} subscriptions registered`);
}

describe('build_finished', () => {
  test('a failing build listed among its dependents is not its own dependent', async ({ db, gateway, jobsetId }) => {
    const stream = subscribeWs(wsClient(gateway.url), BuildFinishedDocument);
    await registered(gateway, 1);
    const [failed, dep] = await insertBuilds(db.pool, jobsetId, 2);
    await finishBuilds(db.pool, [failed!], { status: 1 });
    await notify(db.pool, [['build_finished', `${failed}\t${failed}\t${dep}`]]);
    await notify(db.pool, [['build_finished', `${dep}\t${dep}`]], 'function');
    const [first, second] = await stream.take(2);
    expect(first!.buildFinished).toMatchObject({ buildId: failed, selfListed: true, dependentIds: [dep] });
    expect(second!.buildFinished).toMatchObject({ buildId: dep, selfListed: true, dependentIds: [] });
    stream.dispose();
    await until(() => gateway.hub.size === 0);
  });

  test('5,000 dependents split into chunks arrive as one event, none lost, none repeated (WebSocket and SSE)', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const ws = subscribeWs(wsClient(gateway.url), BuildFinishedIdsDocument);
    const sse = subscribeSse(gateway.url, BuildFinishedIdsDocument);
    const queued = subscribeWs(wsClient(gateway.url), BuildQueuedDocument);
    await registered(gateway, 3);

    const failed = await insertBuild(db.pool, jobsetId);
    const dependents = await insertBuilds(db.pool, jobsetId, 5_000);
    await finishBuilds(db.pool, [failed], { status: 1 });
    await finishBuilds(db.pool, dependents, { status: 2 });
    const chunks = buildFinishedPayloads(failed, dependents, true);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(Buffer.byteLength(chunk)).toBeLessThan(8000);

    // One transaction: the chunks back to back, then an unrelated notification.
    const next = await insertBuild(db.pool, jobsetId);
    await notify(db.pool, [...chunks.map((c) => ['build_finished', c] as const), ['build_queued', String(next)]]);

    for (const stream of [ws, sse]) {
      const { buildFinished } = await stream.nextData(20_000);
      expect(buildFinished.buildId).toBe(failed);
      expect(buildFinished.chunks).toBe(chunks.length);
      expect(buildFinished.dependentIds).toHaveLength(5_000);
      expect(new Set(buildFinished.dependentIds).size).toBe(5_000);
      expect([...buildFinished.dependentIds].sort((a, b) => a - b)).toEqual(dependents);
    }
    expect((await queued.nextData()).buildQueued.buildId).toBe(next);
    expect(gateway.pipeline.stats.published.get('build_finished')).toBe(3);
    expect(ws.buffered).toBe(0);
  });

  test('chunks that arrive in separate transactions but back to back still merge; another build does not', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const stream = subscribeWs(wsClient(gateway.url), BuildFinishedIdsDocument);
    await until(() => gateway.hub.size >= 4);
    const [a, b, ...deps] = await insertBuilds(db.pool, jobsetId, 6);
    const [first, second] = [deps.slice(0, 2), deps.slice(2)];
    await notify(db.pool, [['build_finished', `${a}\t${a}\t${first.join('\t')}`]]);
    await notify(db.pool, [['build_finished', `${a}\t${second.join('\t')}`]]);
    await notify(db.pool, [['build_finished', `${b}`]]);
    const [merged, other] = await stream.take(2);
    expect(merged!.buildFinished).toMatchObject({ buildId: a, chunks: 2, dependentIds: deps });
    expect(other!.buildFinished).toMatchObject({ buildId: b, chunks: 1, dependentIds: [] });
  });
});
