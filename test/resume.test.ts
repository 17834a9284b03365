/**
 * Resuming: every live event carries its cursor; a subscriber that drops
 * mid-stream and resubscribes with its last cursor receives every event
 * exactly once while a writer keeps sending (graphql-ws, and a real
 * EventSource over SSE that resumes by itself with Last-Event-ID); the
 * typed subscriptions accept `after` too; the `events` query pages the
 * journal, newest last; a cursor older than retention is CURSOR_EXPIRED.
 */
import { parse } from 'graphql';
import { EventSource } from 'eventsource';
import type { Socket } from 'node:net';
import { describe, expect } from 'vitest';
import { request, subscribeWs, until, wsClient } from './support/clients.js';
import { notify, type TestDatabase } from './support/database.js';
import { test } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';
import { finishBuilds, insertBuild, restartBuild } from './support/hydra.js';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

type QueueEvents = { queueChanged: { lowestNewBuildId: number | null; cursor: string } };
const queueEvents = parse(
  `subscription ($after: String) { queueChanged(kinds: [BUILDS_ADDED], after: $after) { lowestNewBuildId cursor } }`,
) as TypedDocumentNode<QueueEvents, { after?: string }>;

/** Sends builds_added with ids from..to, one transaction per `per` ids. */
async function send(db: TestDatabase, from: number, to: number, per = 5): Promise<void> {
  for (let start = from; start <= to; start += per) {
    const ids = Array.from({ length: Math.min(per, to - start + 1) }, (_, i) => start + i);
    await notify(
      db.pool,
      ids.map((id) => ['builds_added', String(id)] as const),
      'function',
    );
  }
}

describe('resume over graphql-ws', () => {
  test('drops mid-stream, resumes with the last cursor, gets every event exactly once while the writer keeps sending', async ({
    db,
    gateway,
  }) => {
    const first = subscribeWs(wsClient(gateway.url), queueEvents);
    await until(() => gateway.hub.size === 1);
    const writer = send(db, 1, 300);
    const seen: number[] = [];
    let cursor = '';
    for (const { queueChanged } of await first.take(100)) {
      seen.push(queueChanged.lowestNewBuildId!);
      cursor = queueChanged.cursor;
    }
    first.dispose();
    const second = subscribeWs(wsClient(gateway.url), queueEvents, { after: cursor });
    await writer;
    for (const { queueChanged } of await second.take(200)) seen.push(queueChanged.lowestNewBuildId!);
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    // Nothing more than the 300 arrives: the next event is the next one sent.
    await send(db, 301, 301);
    expect((await second.nextData()).queueChanged.lowestNewBuildId).toBe(301);
  });

  test('rejects a malformed cursor with BAD_USER_INPUT', async ({ gateway }) => {
    const stream = subscribeWs(wsClient(gateway.url), queueEvents, { after: 'nope' });
    const result = await stream.next();
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('leaving and replaying', () => {
  test('a resumed subscription that the client leaves, before any event, is freed at once', async ({ db, gateway }) => {
    const before = gateway.hub.size;
    const { rows } = await db.pool.query('SELECT coalesce(max(position), 0) AS p FROM hydra_notify_gateway.journal');
    const after = Buffer.from(`journal:${rows[0].p}`).toString('base64url');
    const stream = subscribeWs(wsClient(gateway.url), queueEvents, { after });
    await until(() => gateway.hub.size === before + 1, 10_000, 'resumed subscription live');
    stream.dispose();
    await until(() => gateway.hub.size === before, 5_000, 'subscription freed');
  });

  test('replays two finishes of one build as two events, each with the pendingSince it announced', async ({ db, gateway, jobsetId }) => {
    type Finished = { buildFinished: { buildId: number; pendingSince: string | null; chunks: number; cursor: string } };
    const finished = parse(
      'subscription ($after: String) { buildFinished(after: $after) { buildId pendingSince chunks cursor } }',
    ) as TypedDocumentNode<Finished, { after?: string }>;
    const id = await insertBuild(db.pool, jobsetId);
    const live = subscribeWs(wsClient(gateway.url), finished);
    await until(() => gateway.hub.size >= 1);
    const first = await finishBuilds(db.pool, [id], { stopTime: 1_800_000_000 });
    await notify(db.pool, [['build_finished', String(id)]]);
    const { buildFinished: one } = await live.nextData();
    // Restarted (the trigger notifies builds_restarted) and finished again, later.
    await restartBuild(db.pool, id);
    const second = await finishBuilds(db.pool, [id], { stopTime: first + 60 });
    await notify(db.pool, [['build_finished', String(id)]]);
    expect((await live.nextData()).buildFinished.pendingSince).toBe(new Date(second * 1000).toISOString());

    const before = Buffer.from(`journal:${Number(Buffer.from(one.cursor, 'base64url').toString().split(':')[1]) - 1}`).toString(
      'base64url',
    );
    const replay = subscribeWs(wsClient(gateway.url), finished, { after: before });
    const [a, b] = await replay.take(2);
    expect([a!.buildFinished, b!.buildFinished].map((e) => [e.buildId, e.chunks, e.pendingSince])).toEqual([
      [id, 1, new Date(first * 1000).toISOString()],
      [id, 1, new Date(second * 1000).toISOString()],
    ]);
  });
});

describe('resume over SSE with Last-Event-ID', () => {
  test('an EventSource whose connection drops reconnects by itself and misses nothing', async ({ db, gateway }) => {
    const sockets = new Set<Socket>();
    const track = (socket: Socket) => sockets.add(socket);
    gateway.server.on('connection', track);
    onCleanup(async () => void gateway.server.off('connection', track));

    // The URL carries an `after` from before the test's events; on reconnect the
    // EventSource sends the same URL, and its Last-Event-ID must win over it.
    const { rows } = await db.pool.query('SELECT coalesce(max(position), 0) AS p FROM hydra_notify_gateway.journal');
    const start = Buffer.from(`journal:${rows[0].p}`).toString('base64url');
    const url = new URL(gateway.url);
    url.searchParams.set(
      'query',
      'subscription ($after: String) { queueChanged(kinds: [BUILDS_ADDED], after: $after) { lowestNewBuildId cursor } }',
    );
    url.searchParams.set('variables', JSON.stringify({ after: start }));
    // A browser's EventSource cannot set headers: the token travels as access_token.
    url.searchParams.set('access_token', gateway.adminToken);
    const source = new EventSource(url);
    onCleanup(async () => source.close());
    const received: { id: number; lastEventId: string }[] = [];
    const waiters: (() => void)[] = [];
    source.addEventListener('next', (event) => {
      const data = JSON.parse(event.data) as { data: QueueEvents; extensions?: { cursor?: string } };
      expect(event.lastEventId).toBe(data.extensions?.cursor);
      expect(event.lastEventId).toBe(data.data.queueChanged.cursor);
      received.push({ id: data.data.queueChanged.lowestNewBuildId!, lastEventId: event.lastEventId });
      for (const w of waiters.splice(0)) w();
    });
    const count = async (n: number) => until(() => received.length >= n, 20_000, `${n} SSE events`);

    const before = gateway.hub.size;
    await until(() => gateway.hub.size === before + 1, 10_000, 'SSE subscription');
    await send(db, 1001, 1050);
    await count(50);
    // Cut the connection under the client, and keep writing while it is away.
    for (const socket of sockets) socket.destroy();
    await send(db, 1051, 1100);
    await count(100);
    await send(db, 1101, 1110);
    await count(110);
    expect(received.map((r) => r.id)).toEqual(Array.from({ length: 110 }, (_, i) => 1001 + i));
  });
});

describe('history', () => {
  test('events pages the journal oldest first, filterable by channel and time', async ({ db, gateway }) => {
    await send(db, 2001, 2010, 10);
    await notify(db.pool, [['eval_started', '1.2.3\t42']]);
    const page =
      parse(`query ($after: String) { events(first: 4, after: $after, channels: [BUILDS_ADDED, EVAL_STARTED], since: "2000-01-01T00:00:00Z") {
      edges { cursor node { channel payload cursor } } pageInfo { hasNextPage endCursor } } }`) as TypedDocumentNode<
        {
          events: {
            edges: { cursor: string; node: { channel: string; payload: string; cursor: string } }[];
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
          };
        },
        { after?: string }
      >;
    const all: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 200; i++) {
      const result = await request(gateway.url, page, after ? { after } : {});
      expect(result.errors).toBeUndefined();
      const { edges, pageInfo } = result.data!.events;
      for (const edge of edges) {
        expect(edge.cursor).toBe(edge.node.cursor);
        all.push(`${edge.node.channel}:${edge.node.payload}`);
      }
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor!;
    }
    expect(all.slice(-11)).toEqual([...Array.from({ length: 10 }, (_, i) => `builds_added:${2001 + i}`), 'eval_started:1.2.3\t42']);
  });

  test('a cursor older than retention is CURSOR_EXPIRED, never a jump to now', async ({ db, gateway }) => {
    const old = (
      await request(
        gateway.url,
        parse('{ events(first: 1) { edges { cursor } } }') as TypedDocumentNode<
          { events: { edges: { cursor: string }[] } },
          Record<string, never>
        >,
      )
    ).data!.events.edges[0]!.cursor;
    await send(db, 3001, 3003, 3);
    await until(() => gateway.reader.position > 0);
    const pruned = await gateway.retention.prune(new Date(Date.now() + 60_000));
    expect(pruned).toBeGreaterThan(0);
    const history = await request(
      gateway.url,
      parse('query ($after: String) { events(after: $after) { edges { cursor } } }') as TypedDocumentNode<unknown, { after: string }>,
      { after: old },
    );
    expect(history.errors?.[0]?.extensions?.code).toBe('CURSOR_EXPIRED');
    const stream = subscribeWs(wsClient(gateway.url), queueEvents, { after: old });
    const result = await stream.next();
    expect(result.errors?.[0]?.extensions?.code).toBe('CURSOR_EXPIRED');
    expect(result.data ?? null).toBeNull();
    await stream.waitEnded();
  });
});
