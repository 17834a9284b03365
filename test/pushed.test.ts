/**
 * Shared subscriptions written straight to their transport (ws.ts and
 * streams.ts take them before graphql-ws's loop and yoga's stream): over
 * WebSocket they live in graphql-ws's record of the socket like its own (a
 * `complete` stops one, a reused id closes the socket, queries still run
 * beside them); over SSE a stream opened by POST or by an EventSource's GET
 * gets the headers, CORS included, of the streams yoga writes, is counted
 * as an SSE subscription as those are, resumes from
 * `Last-Event-ID`, and what it cannot take (a body that is not JSON, a
 * document that does not validate) is answered by yoga as before.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { requestData, until } from './support/clients.js';
import { CREATE } from './support/consumers.js';
import { queueAndAnnounce } from './support/database.js';
import { onCleanup, type TestGateway } from './support/gateway.js';
import { fixtures } from './support/fixtures.js';
import { scrape } from './support/prometheus.js';

const DASHBOARD = 'https://dashboard.example.org';
const EVIL = 'https://evil.example';
const test = fixtures({ instance: 'pushed', corsOrigins: [DASHBOARD] });

const QUEUED = 'subscription { buildQueued { buildId } }';

/** An SSE request: its response once its headers came, and the frames it has received so far. */
function stream(
  gateway: TestGateway,
  options: { method: 'GET' | 'POST'; query?: string; body?: string; headers?: Record<string, string> },
): Promise<{ res: IncomingMessage; frames: { id: string | null; data: string }[]; text: () => string; close: () => void }> {
  const url = new URL(gateway.url);
  if (options.method === 'GET') url.searchParams.set('query', options.query ?? QUEUED);
  const body = options.method === 'POST' ? (options.body ?? JSON.stringify({ query: options.query ?? QUEUED })) : undefined;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method,
        headers: {
          accept: 'text/event-stream',
          authorization: `Bearer ${gateway.adminToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        const frames: { id: string | null; data: string }[] = [];
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          for (;;) {
            const end = text.indexOf('\n\n');
            if (end < 0) break;
            const block = text.slice(0, end);
            text = text.slice(end + 2);
            const data = /^data: (.+)$/m.exec(block);
            if (/^event: next$/m.test(block) && data) frames.push({ id: /^id: (.+)$/m.exec(block)?.[1] ?? null, data: data[1]! });
          }
        });
        let all = '';
        res.on('data', (chunk: string) => (all += chunk));
        onCleanup(async () => void req.destroy());
        resolve({ res, frames, text: () => all, close: () => void req.destroy() });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The CORS headers of a response. */
function cors(res: IncomingMessage): Record<string, unknown> {
  return Object.fromEntries(Object.entries(res.headers).filter(([name]) => name.startsWith('access-control-')));
}

describe('a shared subscription over SSE', () => {
  test("has the headers of yoga's streams, CORS for a listed origin only", async ({ gateway }) => {
    await requestData(gateway.url, CREATE, { name: 'pushed-cors' }, { token: gateway.adminToken });
    // A consumer's subscription is not shared: yoga writes its stream.
    const consumer = 'subscription { buildFinished(consumer: "pushed-cors") { buildId } }';
    for (const origin of [DASHBOARD, EVIL]) {
      const before = await scrape(gateway.url);
      const pushed = await stream(gateway, { method: 'POST', headers: { origin } });
      const yoga = await stream(gateway, { method: 'POST', query: consumer, headers: { origin } });
      // Both are counted as SSE subscriptions.
      const open = await scrape(gateway.url);
      expect(open.value('hng_subscriptions', { transport: 'sse' })).toBe(before.value('hng_subscriptions', { transport: 'sse' }) + 2);
      for (const { res } of [pushed, yoga]) {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        expect(res.headers['cache-control']).toBe('no-cache');
      }
      expect(cors(pushed.res), origin).toEqual(cors(yoga.res));
      if (origin === DASHBOARD) expect(pushed.res.headers['access-control-allow-origin']).toBe(DASHBOARD);
      else expect(pushed.res.headers['access-control-allow-origin']).toBeUndefined();
      expect(pushed.res.headers['access-control-allow-credentials']).toBeUndefined();
      pushed.close();
      yoga.close();
      // A client that leaves stops its stream, pushed or not.
      await until(() => gateway.hub.size === 0, 10_000, 'the streams stopped');
    }
  });

  test("opened by an EventSource's GET, it delivers with ids, and resumes after its Last-Event-ID", async ({ gateway, db, jobsetId }) => {
    const first = await stream(gateway, { method: 'GET' });
    await until(() => first.text().includes('retry:'), 10_000, 'the stream opened');
    const ids = await queueAndAnnounce(db.pool, jobsetId, 3, 'pushed');
    await until(() => first.frames.length === 3, 10_000, 'three events');
    expect(
      first.frames.map((f) => (JSON.parse(f.data) as { data: { buildQueued: { buildId: number } } }).data.buildQueued.buildId),
    ).toEqual(ids);
    expect(first.frames.every((f) => f.id !== null)).toBe(true);

    const resumed = await stream(gateway, { method: 'GET', headers: { 'last-event-id': first.frames[0]!.id! } });
    await until(() => resumed.frames.length === 2, 10_000, 'the two events after the first');
    expect(resumed.frames.map((f) => f.id)).toEqual(first.frames.slice(1).map((f) => f.id));
    first.close();
    resumed.close();
    await until(() => gateway.hub.size === 0, 10_000, 'the streams stopped');
  });

  test('what it cannot take, yoga answers as before: a body that is not JSON, a document that does not validate', async ({ gateway }) => {
    const notJson = await stream(gateway, { method: 'POST', body: '{"query": "subscription {' });
    await until(() => notJson.text().includes('complete'), 10_000, 'an answer');
    expect(notJson.text()).toContain('POST body sent invalid JSON');
    const invalid = await stream(gateway, { method: 'POST', query: 'subscription { buildQueued { noSuchField } }' });
    await until(() => invalid.text().includes('noSuchField'), 10_000, 'the validation error');
    expect(invalid.text()).toContain('Cannot query field');
  });
});

describe('a shared subscription over WebSocket', () => {
  test('is stopped by its complete, runs beside a query on its socket, and its id cannot be reused (4409)', async ({
    gateway,
    db,
    jobsetId,
  }) => {
    await until(() => gateway.hub.size === 0, 10_000, 'no subscription');
    const socket = new WebSocket(gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    onCleanup(async () => socket.terminate());
    const messages: { id?: string; type: string; payload?: unknown }[] = [];
    const closed = new Promise<string>((resolve) => socket.once('close', (code, reason) => resolve(`${code} ${reason}`)));
    await new Promise<void>((resolve) => socket.once('open', () => resolve()));
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as { type: string }));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { token: gateway.adminToken } }));
    await until(() => messages.some((m) => m.type === 'connection_ack'), 10_000, 'the ack');
    const send = (message: object) => socket.send(JSON.stringify(message));

    send({ id: 'a', type: 'subscribe', payload: { query: QUEUED } });
    send({ id: 'b', type: 'subscribe', payload: { query: QUEUED } });
    await until(() => gateway.hub.size === 2, 10_000, 'two subscriptions');
    send({ id: 'q', type: 'subscribe', payload: { query: '{ consumers { name } }' } });
    await until(() => messages.some((m) => m.id === 'q' && m.type === 'complete'), 10_000, 'the query answered');
    expect(messages.find((m) => m.id === 'q' && m.type === 'next')?.payload).toMatchObject({ data: { consumers: expect.any(Array) } });

    send({ id: 'a', type: 'complete' });
    await until(() => gateway.hub.size === 1, 10_000, "'a' stopped");
    await queueAndAnnounce(db.pool, jobsetId, 1, 'pushed');
    await until(() => messages.some((m) => m.id === 'b' && m.type === 'next'), 10_000, "'b' delivered");
    // The stopped one is told nothing more (its client asked).
    expect(messages.filter((m) => m.id === 'a')).toEqual([]);

    send({ id: 'b', type: 'subscribe', payload: { query: QUEUED } });
    expect(await closed).toBe('4409 Subscriber for b already exists');
    await until(() => gateway.hub.size === 0, 10_000, 'the subscriptions ended with their socket');
  });
});
