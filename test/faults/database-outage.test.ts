/**
 * The database stopped for a few seconds, on a Postgres of this file's own
 * (support/postgres.ts), with a gateway in this process and the client
 * module's consumer loop running against it.
 *
 * What must hold while it is away: a query answers DATABASE_UNAVAILABLE with
 * HTTP 503 (not "Unexpected error."), whether its token was still cached or
 * had to be looked up, and a WebSocket whose token cannot be looked up is
 * closed with 1013 (try again later), not 4401; the consumer loop, whose
 * acknowledgement falls into the outage, keeps asking instead of stopping; a
 * consumer subscription whose claims fail stays open. Once it is back: the
 * acknowledgement lands (ACKNOWLEDGED once per build, whatever was
 * redelivered meanwhile), the same subscription receives its occurrences,
 * and a build finished afterwards is processed and acknowledged too.
 */
import { print } from 'graphql';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { type Acknowledgement, type ConsumerDelivery, runConsumer } from '../../src/client/index.js';
import { gatewayClient, request, requestData, subscribeWs, until, wsClient } from '../support/clients.js';
import { CONSUME, CREATE, finishAndNotify, PAUSE, PENDING, RESUME } from '../support/consumers.js';
import { recordingGateway } from '../support/fixtures.js';
import { insertBuildsOneByOne, seedJobset } from '../support/hydra.js';
import { startRestartablePostgres } from './support/postgres.js';

/** Fast reconnects and takeovers, so the outage is short; leases of a second, so claims run during it. */
const FAST = {
  lockRetryMs: 100,
  heartbeatMs: 200,
  reconnectGraceMs: 200,
  reconnectMinMs: 20,
  reconnectMaxMs: 200,
  visibilityTimeoutMs: 1_000,
};

/** What a query for a pending page answered. */
interface Answer {
  status: number;
  code: unknown;
  retryAfter: string | null;
}

/** Asks `url` for a pending page with `token`. */
async function pendingPage(url: string, token: string): Promise<Answer> {
  const response = await fetch(new URL('/graphql', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(PENDING) }),
  });
  const body = (await response.json()) as { errors?: { extensions?: { code?: unknown } }[] };
  return { status: response.status, code: body.errors?.[0]?.extensions?.code, retryAfter: response.headers.get('retry-after') };
}

/** Opens a graphql-ws connection to `url` with `token`; resolves with the code it is closed with. */
function webSocketClose(url: string, token: string): Promise<number> {
  const socket = new WebSocket(new URL('/graphql', url.replace(/^http/, 'ws')), 'graphql-transport-ws');
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { token } })));
  return new Promise((resolve, reject) => {
    socket.on('close', (code) => resolve(code));
    socket.on('error', reject);
  });
}

describe('the database away for a few seconds', () => {
  test('queries answer DATABASE_UNAVAILABLE (503); the consumer loop and a consumer subscription carry on, and nothing is left unacknowledged', async () => {
    const postgres = await startRestartablePostgres();
    const url = await postgres.createHydraDatabase('outage');
    const pool = postgres.pool(url, 2);
    const jobsetId = await seedJobset(pool);
    const gateway = await recordingGateway(url, { instance: 'outage', ...FAST });
    await requestData(gateway.url, CREATE, { name: 'reporter' });
    // A paused consumer's subscription claims (and finds nothing) at every wake: during the outage, those claims fail.
    await requestData(gateway.url, CREATE, { name: 'watcher' });
    await requestData(gateway.url, PAUSE, { name: 'watcher' });
    const watcher = subscribeWs(wsClient(gateway.url), CONSUME, { consumer: 'watcher' });
    await until(() => gateway.hub.size >= 1, 10_000, 'the watcher subscribed');

    // Counts the answers of 503: the acknowledgement asked again while the database was away.
    let unavailable = 0;
    const client = gatewayClient(gateway, {
      fetch: async (...args) => {
        const response = await fetch(...args);
        if (response.status === 503) unavailable++;
        return response;
      },
    });
    const [a, b, c] = await insertBuildsOneByOne(pool, jobsetId, 3);
    const handled: number[] = [];
    const acks: Acknowledgement[] = [];
    // A token verified before (the admin's, perhaps still cached) and one never used, whose lookup meets the outage.
    const fresh = (await gateway.tokens.create({ name: 'never-used', scope: 'admin' })).token;
    let answered: { admin: Answer; fresh: Answer; wsClose: number } | null = null;
    const abort = new AbortController();
    const loop = runConsumer(client, {
      consumer: 'reporter',
      signal: abort.signal,
      ackRetryMaxMs: 500,
      onAcknowledged: (ack) => acks.push(ack),
      handle: async (delivery: ConsumerDelivery) => {
        handled.push(delivery.buildId);
        if (delivery.buildId !== b || answered) return;
        // The database goes away after b was processed, before its acknowledgement.
        await postgres.stop('fast');
        answered = {
          admin: await pendingPage(gateway.url, gateway.adminToken),
          fresh: await pendingPage(gateway.url, fresh),
          wsClose: await webSocketClose(gateway.url, fresh),
        };
      },
    });
    let stopped: unknown = null;
    loop.catch((error: unknown) => (stopped = error));

    await finishAndNotify(pool, [a]);
    await until(() => acks.some((ack) => ack.delivery.buildId === a), 10_000, 'a acknowledged');
    await finishAndNotify(pool, [b]);
    await until(() => answered !== null, 20_000, 'the query during the outage answered');
    // Answered as unavailable, whether the token was looked up or not; over graphql-ws, "try again later".
    expect(answered).toEqual({
      admin: { status: 503, code: 'DATABASE_UNAVAILABLE', retryAfter: '1' },
      fresh: { status: 503, code: 'DATABASE_UNAVAILABLE', retryAfter: '1' },
      wsClose: 1013,
    });
    // Three answers of 503 to the acknowledgement (250, 500, 500 ms apart): the watcher's claims, every half second, met the outage too.
    await until(() => unavailable >= 3, 20_000, 'the acknowledgement asked again during the outage');
    expect(watcher.ended).toBe(false);
    expect(gateway.logs.some((line) => line.includes('claiming occurrences of watcher failed'))).toBe(true);
    // The operator reads an outage, not a bug: warnings, no error with a stack per request.
    expect(gateway.logs.filter((line) => line.includes('"level":"error"') && line.includes('ECONNREFUSED'))).toEqual([]);
    expect(gateway.logs.some((line) => line.includes('the database is away (answered DATABASE_UNAVAILABLE)'))).toBe(true);
    await postgres.start();

    await until(() => acks.some((ack) => ack.delivery.buildId === b), 30_000, 'b acknowledged once the database is back');
    const { errors } = await request(gateway.url, PENDING, {});
    expect(errors).toBeUndefined();
    await finishAndNotify(pool, [c]);
    await until(() => acks.some((ack) => ack.delivery.buildId === c), 30_000, 'c, finished after the outage, acknowledged');
    expect(stopped).toBeNull();

    // The watcher's subscription outlived the outage: resumed, it receives its occurrences.
    expect(watcher.ended).toBe(false);
    await requestData(gateway.url, RESUME, { name: 'watcher' });
    const got = new Set<number>();
    while (![a, b, c].every((id) => got.has(id))) got.add((await watcher.nextData(10_000)).buildFinished.buildId);
    watcher.dispose();

    abort.abort();
    await loop;
    expect(new Set(handled)).toEqual(new Set([a, b, c]));
    // Compare-and-set: each build ACKNOWLEDGED exactly once, whatever was delivered again meanwhile.
    expect(
      acks
        .filter((ack) => ack.outcome === 'ACKNOWLEDGED')
        .map((ack) => ack.delivery.buildId)
        .sort(),
    ).toEqual([a, b, c].sort());
    expect(acks.filter((ack) => ack.outcome !== 'ACKNOWLEDGED' && ack.outcome !== 'ALREADY_ACKNOWLEDGED')).toEqual([]);
    await client.dispose();
    await gateway.close();
  }, 120_000);
});
