/**
 * One execution per event for identical subscriptions, against a real
 * gateway with real graphql-ws and SSE clients: N subscribers of one
 * document cost one execution per event and receive the same bytes; the same
 * document with other variables is a cohort of its own, filtered before
 * anything executes; a subscriber joining mid-stream with `after` replays its
 * history alone, then shares the live events, each exactly once and in order;
 * a consumer's deliveries are never shared.
 */
import { print } from 'graphql';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { type Stream, subscribeSse, subscribeWs, until, wsClient } from './support/clients.js';
import { doc } from './support/consumers.js';
import { queueAndAnnounce } from './support/database.js';
import { onCleanup, type TestGateway } from './support/gateway.js';
import { fixtures } from './support/fixtures.js';

const test = fixtures({ instance: 'shared' });

type Queued = {
  buildQueued: {
    buildId: number;
    cursor: string;
    build: { id: number; job: string; jobset: { name: string; project: { name: string } } } | null;
  };
};
const QUEUED = doc<Queued, { project?: string; after?: string }>(
  'subscription ($project: String, $after: String) { buildQueued(filter: { project: $project }, after: $after) { buildId cursor build { id job jobset { name project { name } } } } }',
);

/** A raw graphql-ws socket subscribed to `query`: the exact text of every `next` payload it receives, and its close. */
async function rawSubscriber(
  gateway: TestGateway,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ payloads: string[]; close: () => void }> {
  const payloads: string[] = [];
  const socket = new WebSocket(gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  onCleanup(async () => socket.close());
  await new Promise<void>((resolve) => socket.once('open', () => resolve()));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { token: gateway.adminToken } }));
  await new Promise<void>((resolve) => socket.once('message', () => resolve()));
  socket.on('message', (data) => {
    const text = String(data);
    // Everything after the id is the payload as the server wrote it.
    const match = /^\{"id":"1","type":"next","payload":(.*)\}$/s.exec(text);
    if (match) payloads.push(match[1]!);
  });
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
  return { payloads, close: () => socket.close() };
}

/** Waits until the gateway holds `n` subscriptions (those of earlier tests gone). */
const holding = (gateway: TestGateway, n: number) => until(() => gateway.hub.size === n, 10_000, `${n} subscriptions`);

describe('identical subscriptions', () => {
  test('share one execution per event and receive the same bytes, over WebSocket and SSE', async ({ gateway, db, jobsetId }) => {
    await holding(gateway, 0);
    const ws = Array.from({ length: 20 }, () => subscribeWs(wsClient(gateway.url), QUEUED, {}));
    const sse = Array.from({ length: 5 }, () => subscribeSse(gateway.url, QUEUED, {}));
    // The same text as the clients send (they print the document).
    const raw = await Promise.all([rawSubscriber(gateway, print(QUEUED)), rawSubscriber(gateway, print(QUEUED))]);
    await holding(gateway, 27);

    const executions = gateway.shared.executions;
    const ids = await queueAndAnnounce(db.pool, jobsetId, 10, 'shared');
    const received = await Promise.all([...ws, ...sse].map((s: Stream<Queued>) => s.take(10)));
    for (const got of received) expect(got.map((r) => r.buildQueued.buildId)).toEqual(ids);
    expect(received[0]![0]!.buildQueued.build).toMatchObject({
      id: ids[0],
      job: 'shared0',
      jobset: { name: 'trunk', project: { name: 'nixpkgs' } },
    });
    await until(() => raw.every((r) => r.payloads.length === 10), 10_000, 'raw payloads');
    // One execution per event for 27 subscribers, and byte for byte the same payload on two sockets.
    expect(gateway.shared.executions - executions).toBe(10);
    expect(raw[0]!.payloads).toEqual(raw[1]!.payloads);
    expect(JSON.parse(raw[0]!.payloads[0]!)).toEqual({
      data: received[0]![0],
      extensions: { cursor: received[0]![0]!.buildQueued.cursor },
    });
    for (const s of [...ws, ...sse]) s.dispose();
    for (const r of raw) r.close();
  });

  test('the same document with other variables is a cohort of its own, filtered before it executes', async ({
    gateway,
    db,
    jobsetId,
    otherJobsetId,
  }) => {
    const nixpkgs = [
      subscribeWs(wsClient(gateway.url), QUEUED, { project: 'nixpkgs' }),
      subscribeWs(wsClient(gateway.url), QUEUED, { project: 'nixpkgs' }),
    ];
    const hydra = [
      subscribeWs(wsClient(gateway.url), QUEUED, { project: 'hydra' }),
      subscribeWs(wsClient(gateway.url), QUEUED, { project: 'hydra' }),
    ];
    await holding(gateway, 4);
    const executions = gateway.shared.executions;
    const a = await queueAndAnnounce(db.pool, jobsetId, 3, 'shared');
    const b = await queueAndAnnounce(db.pool, otherJobsetId, 2, 'shared');
    for (const s of nixpkgs) expect((await s.take(3)).map((r) => r.buildQueued.buildId)).toEqual(a);
    for (const s of hydra) expect((await s.take(2)).map((r) => r.buildQueued.buildId)).toEqual(b);
    // Each event executed once, for the one cohort it concerns.
    expect(gateway.shared.executions - executions).toBe(5);
    for (const s of [...nixpkgs, ...hydra]) s.dispose();
  });
});

describe('joining mid-stream', () => {
  test('with after: its history alone, then the live events shared, each once and in order', async ({ gateway, db, jobsetId }) => {
    await holding(gateway, 0);
    const early = subscribeWs(wsClient(gateway.url), QUEUED, {});
    await holding(gateway, 1);
    const first = await queueAndAnnounce(db.pool, jobsetId, 5, 'shared');
    const seen = await early.take(5);
    expect(seen.map((r) => r.buildQueued.buildId)).toEqual(first);

    // Joins after the second event: the third to fifth from the journal, then live.
    const late = subscribeWs(wsClient(gateway.url), QUEUED, { after: seen[1]!.buildQueued.cursor });
    expect((await late.take(3)).map((r) => r.buildQueued.buildId)).toEqual(first.slice(2));
    await holding(gateway, 2);
    const executions = gateway.shared.executions;
    const second = await queueAndAnnounce(db.pool, jobsetId, 4, 'shared');
    expect((await early.take(4)).map((r) => r.buildQueued.buildId)).toEqual(second);
    expect((await late.take(4)).map((r) => r.buildQueued.buildId)).toEqual(second);
    // The live events: one execution each for both (`after` decides where a stream starts, not the results).
    expect(gateway.shared.executions - executions).toBe(4);
    expect(late.buffered + early.buffered).toBe(0);
    early.dispose();
    late.dispose();
  });
});
