/**
 * Who gets in, tried as clients would: without a token, with a bad, revoked
 * or expired one, and with tokens of each scope, over HTTP, graphql-ws and
 * SSE against real gateways. Missing or bad: 401 (4401 on WebSocket); a
 * token without the scope: 403 with FORBIDDEN; an `ack` token acts for its
 * consumers only; revoking a token ends its open WebSockets and SSE streams
 * within seconds on every instance, and so does its expiry; a principal over
 * its socket or stream limit is refused.
 */
import { createClient } from 'graphql-ws';
import http from 'node:http';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { type As, request, requestData, subscribeSse, subscribeWs, until, wsClient } from './support/clients.js';
import { ACK, CONSUME, CREATE, doc, finishAndNotify, iso, PENDING } from './support/consumers.js';
import { notify } from './support/database.js';
import { onCleanup, startTestGateway, type TestGateway } from './support/gateway.js';
import { fixtures } from './support/fixtures.js';
import { insertBuild } from './support/hydra.js';

const test = fixtures({ instance: 'auth' });

const BUILD = doc<{ build: { id: number } | null }, { id: number }>('query ($id: Int!) { build(id: $id) { id } }');
const QUEUE = doc<{ queueChanged: { lowestNewBuildId: number | null } }>(
  'subscription { queueChanged(kinds: [BUILDS_ADDED]) { lowestNewBuildId } }',
);
const CREATE_TOKEN = doc<
  { createToken: { token: string; details: { name: string; scope: string; consumers: string[] | null } } },
  { name: string; scope: string; consumers?: string[]; expiresAt?: string }
>(
  'mutation ($name: String!, $scope: TokenScope!, $consumers: [String!], $expiresAt: DateTime) { createToken(name: $name, scope: $scope, consumers: $consumers, expiresAt: $expiresAt) { token details { name scope consumers } } }',
);
const REVOKE_TOKEN = doc<{ revokeToken: { name: string; revokedAt: string | null } }, { name: string }>(
  'mutation ($name: String!) { revokeToken(name: $name) { name revokedAt } }',
);
const TOKENS = doc<{ tokens: Record<string, unknown>[] }>(
  '{ tokens { id name scope consumers createdAt lastUsedAt expiresAt revokedAt } }',
);

let serial = 0;

/** A token of `scope` made through the admin mutation; returns it and its name. */
async function makeToken(gateway: TestGateway, scope: 'READ' | 'ACK' | 'ADMIN', extra: { consumers?: string[]; expiresAt?: string } = {}) {
  const name = `t${++serial}-${scope.toLowerCase()}`;
  const { token } = (await requestData(gateway.url, CREATE_TOKEN, { name, scope, ...extra })).createToken;
  return { name, token, as: { token } satisfies As };
}

/** The first error code of a result. */
const codeOf = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => result.errors?.[0]?.extensions?.code;

/** A raw POST of `query` with these headers; the status and the parsed body. */
async function post(url: string, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as { errors?: { extensions?: Record<string, unknown> }[] },
  };
}

/** A graphql-ws socket with these connection params; resolves to the code it was closed with. */
function closeCodeOf(url: string, connectionParams: Record<string, unknown>): { closed: Promise<number>; dispose: () => void } {
  let closed!: (code: number) => void;
  const promise = new Promise<number>((resolve) => (closed = resolve));
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {},
    on: { closed: (event) => closed((event as { code: number }).code) },
  });
  onCleanup(async () => client.dispose());
  client.subscribe({ query: 'subscription { queueChanged { kind } }' }, { next: () => {}, error: () => {}, complete: () => {} });
  return { closed: promise, dispose: () => void client.dispose() };
}

describe('without a valid token', () => {
  test('HTTP answers 401 with WWW-Authenticate, WebSocket closes 4401, SSE answers 401', async ({ gateway }) => {
    const none = await post(gateway.url, '{ consumers { name } }');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(codeOf(none.body)).toBe('UNAUTHENTICATED');
    const bad = await post(gateway.url, '{ consumers { name } }', { authorization: 'Bearer hng_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    expect(bad.status).toBe(401);

    expect(await closeCodeOf(gateway.url, {}).closed).toBe(4401);
    expect(await closeCodeOf(gateway.url, { token: 'not-a-token' }).closed).toBe(4401);

    const sse = await fetch(`${gateway.url}?query=${encodeURIComponent('subscription { queueChanged { kind } }')}`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(sse.status).toBe(401);
    await sse.body?.cancel();
    // GraphiQL's page itself needs no token: the token goes in its headers editor.
    const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('GraphiQL');
  });

  test('where anonymous reading is allowed, no token reads, but a bad token is still 401 and writing is FORBIDDEN', async ({ db }) => {
    const open = await startTestGateway(db.url, { instance: 'anonymous-read', anonymous: 'read' });
    expect((await request(open.url, BUILD, { id: 1 }, { token: null })).errors).toBeUndefined();
    const stream = subscribeWs(wsClient(open.url, { token: null }), QUEUE);
    await until(() => open.hub.size > 0, 10_000, 'anonymous subscription');
    await notify(db.pool, [['builds_added', '77']]);
    expect((await stream.nextData()).queueChanged.lowestNewBuildId).toBe(77);

    const write = await request(open.url, CREATE, { name: 'anonymous-writer' }, { token: null });
    expect(codeOf(write)).toBe('FORBIDDEN');
    expect(write.errors?.[0]?.message).toContain('anonymous clients may only read');
    expect((await post(open.url, '{ __typename }', { authorization: 'Bearer hng_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(401);
    stream.dispose();
  });
});

describe('scopes', () => {
  test('read reads and subscribes; acknowledging, consumers and tokens need more (403, FORBIDDEN)', async ({ gateway, db }) => {
    const { as } = await makeToken(gateway, 'READ');
    expect((await request(gateway.url, BUILD, { id: 1 }, as)).errors).toBeUndefined();
    const stream = subscribeWs(wsClient(gateway.url, as), QUEUE);
    await until(() => gateway.hub.size > 0, 10_000, 'subscription');
    await notify(db.pool, [['builds_added', '5']]);
    expect((await stream.nextData()).queueChanged.lowestNewBuildId).toBe(5);
    stream.dispose();

    const refused = await post(gateway.url, 'mutation { createConsumer(name: "by-reader") { name } }', {
      authorization: `Bearer ${as.token}`,
    });
    expect(refused.status).toBe(403);
    expect(codeOf(refused.body)).toBe('FORBIDDEN');
    expect(codeOf(await request(gateway.url, ACK, { buildId: 1, pendingSince: iso(1) }, as))).toBe('FORBIDDEN');
    expect(codeOf(await request(gateway.url, TOKENS, {}, as))).toBe('FORBIDDEN');
  });

  test("an ack token acts for its consumers only, and not on Hydra's own column", async ({ gateway, db, jobsetId }) => {
    for (const name of ['release-sync', 'chat-bot']) await requestData(gateway.url, CREATE, { name });
    const { as } = await makeToken(gateway, 'ACK', { consumers: ['release-sync'] });
    const id = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [id]);

    // Its own consumer: deliveries, pending set, acknowledgement.
    const stream = subscribeWs(wsClient(gateway.url, as), CONSUME, { consumer: 'release-sync' });
    expect((await stream.nextData()).buildFinished.buildId).toBe(id);
    expect(
      (await requestData(gateway.url, PENDING, { consumer: 'release-sync' }, as)).pendingBuildFinished.edges.map((e) => e.node.id),
    ).toContain(id);
    expect(
      (await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'release-sync' }, as))
        .acknowledgeBuildFinished.outcome,
    ).toBe('ACKNOWLEDGED');

    // Another consumer, or Hydra's column itself: refused, and nothing changed.
    expect(codeOf(await request(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'chat-bot' }, as))).toBe('FORBIDDEN');
    expect(codeOf(await request(gateway.url, ACK, { buildId: id, pendingSince: iso(since) }, as))).toBe('FORBIDDEN');
    expect(codeOf(await request(gateway.url, PENDING, { consumer: 'chat-bot' }, as))).toBe('FORBIDDEN');
    const other = subscribeWs(wsClient(gateway.url, as), CONSUME, { consumer: 'chat-bot' });
    expect(codeOf(await other.next())).toBe('FORBIDDEN');
    await other.waitEnded();
    expect((await requestData(gateway.url, PENDING, { consumer: 'chat-bot' })).pendingBuildFinished.edges.map((e) => e.node.id)).toContain(
      id,
    );
    stream.dispose();
  });

  test('admin lists tokens without their secrets; a token is shown once, at creation', async ({ gateway }) => {
    const { name, token } = await makeToken(gateway, 'READ');
    const listed = (await requestData(gateway.url, TOKENS)).tokens;
    const mine = listed.find((t) => t.name === name)!;
    expect(mine).toMatchObject({ scope: 'READ', consumers: null, revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(token);
    const duplicate = await request(gateway.url, CREATE_TOKEN, { name, scope: 'READ' });
    expect(codeOf(duplicate)).toBe('ALREADY_EXISTS');
    expect(codeOf(await request(gateway.url, CREATE_TOKEN, { name: 'bound-reader', scope: 'READ', consumers: ['x'] }))).toBe(
      'BAD_USER_INPUT',
    );
  });
});

describe('revocation and expiry', () => {
  test('revoking a token ends its WebSockets and SSE streams within seconds, on every instance', async ({ gateway, db }) => {
    const other = await startTestGateway(db.url, { instance: 'auth-other' });
    const { name, as } = await makeToken(gateway, 'READ');
    const socket = closeCodeOf(gateway.url, { token: as.token });
    const stream = subscribeSse(other.url, QUEUE, {}, as);
    await until(() => gateway.sessions.count('ws') > 0 && other.sessions.count('sse') > 0, 10_000, 'connections open');
    expect((await request(other.url, BUILD, { id: 1 }, as)).errors).toBeUndefined();

    const revokedAt = Date.now();
    await requestData(gateway.url, REVOKE_TOKEN, { name });
    expect(await socket.closed).toBe(4401);
    await stream.waitEnded(5_000);
    const last = await stream.next().catch(() => null);
    expect(last === null || codeOf(last) === 'UNAUTHENTICATED').toBe(true);
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    // The other instance forgot the token too: its next request is refused.
    expect(codeOf(await request(other.url, BUILD, { id: 1 }, as))).toBe('UNAUTHENTICATED');
  });

  test("an expired token's connections end within seconds, and it is refused from then on", async ({ gateway }) => {
    const { as } = await makeToken(gateway, 'READ', { expiresAt: new Date(Date.now() + 1_500).toISOString() });
    const socket = closeCodeOf(gateway.url, { token: as.token });
    await until(() => gateway.sessions.count('ws') > 0, 10_000, 'socket open');
    expect(await socket.closed).toBe(4401);
    expect(codeOf(await request(gateway.url, BUILD, { id: 1 }, as))).toBe('UNAUTHENTICATED');
  });
});

/** POSTs over `agent` (one kept-alive socket); the HTTP status, the first error code, and whether the socket was reused. */
function postOn(agent: http.Agent, url: string, query: string, token: string): Promise<{ status: number; code: unknown; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query });
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: codeOf(JSON.parse(text)), reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('tokens on one kept-alive connection', () => {
  test('each request is judged by its own token, and a revocation applies to the next request on the same socket', async ({ gateway }) => {
    // A proxy that pools its upstream connections sends several clients' requests down one socket.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    onCleanup(async () => agent.destroy());
    const reader = await makeToken(gateway, 'READ');
    const admin = await makeToken(gateway, 'ADMIN');
    const tokensQuery = '{ tokens { name } }';
    const answers = [];
    // The admin's secret with its last character changed (to another one: it may end in x).
    const forged = `${admin.token.slice(0, -1)}${admin.token.endsWith('x') ? 'y' : 'x'}`;
    for (const token of [admin.token, reader.token, admin.token, forged, reader.token]) {
      answers.push(await postOn(agent, gateway.url, tokensQuery, token));
    }
    expect(answers.map((a) => [a.status, a.code ?? null])).toEqual([
      [200, null],
      [403, 'FORBIDDEN'],
      [200, null],
      [401, 'UNAUTHENTICATED'],
      [403, 'FORBIDDEN'],
    ]);
    expect(answers.slice(1).every((a) => a.reused)).toBe(true);

    await requestData(gateway.url, REVOKE_TOKEN, { name: admin.name });
    const after = await postOn(agent, gateway.url, tokensQuery, admin.token);
    expect([after.status, after.code, after.reused]).toEqual([401, 'UNAUTHENTICATED', true]);
  });
});

describe('limits per token', () => {
  test('a token over its WebSockets is closed 4429; over its SSE streams, 429', async ({ db }) => {
    const small = await startTestGateway(db.url, { instance: 'auth-limits', limits: { maxSocketsPerToken: 2, maxSseStreamsPerToken: 1 } });
    const { as } = await makeToken(small, 'READ');
    const open = [closeCodeOf(small.url, { token: as.token }), closeCodeOf(small.url, { token: as.token })];
    await until(() => small.sessions.count('ws') === 2, 10_000, 'two sockets');
    expect(await closeCodeOf(small.url, { token: as.token }).closed).toBe(4429);

    const first = subscribeSse(small.url, QUEUE, {}, as);
    await until(() => small.sessions.count('sse') === 1, 10_000, 'one stream');
    const second = await fetch(`${small.url}?query=${encodeURIComponent('subscription { queueChanged { kind } }')}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${as.token}` },
    });
    expect(second.status).toBe(429);
    expect(codeOf((await second.json()) as never)).toBe('LIMIT_EXCEEDED');
    // Another token has limits of its own.
    const { as: another } = await makeToken(small, 'READ');
    const third = closeCodeOf(small.url, { token: another.token });
    await until(() => small.sessions.count('ws') === 3, 10_000, 'a third socket, of another token');
    for (const socket of [...open, third]) socket.dispose();
    first.dispose();
  });
});
