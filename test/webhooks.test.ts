/**
 * Webhooks end to end: a real gateway, real local HTTP endpoints, Hydra's
 * NOTIFYs sent in transactions. Each delivery's signature is verified with
 * the Standard Webhooks reference library; bodies are compared with what a
 * graphql-ws subscriber of the same document receives; retries, timeouts,
 * refusals, dead deliveries, automatic disabling, re-enabling, redelivery,
 * gaps and consumer-bound acknowledgement are observed at the endpoint and
 * in the delivery log the API serves.
 */
import { createServer } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { describe, expect } from 'vitest';
import { request, requestData, subscribeWs, until, wsClient } from './support/clients.js';
import { ACK, CREATE, doc, pendingColumn } from './support/consumers.js';
import { notify } from './support/database.js';
import { scrape } from './support/prometheus.js';
import { fixtures } from './support/fixtures.js';
import { finishBuilds, insertBuild } from './support/hydra.js';
import { type Received, type Receiver, startReceiver } from './support/receiver.js';

/** Short schedule for tests: 150 ms, 300 ms, 600 ms (4 attempts in all), each ±20 %. */
const SCHEDULE = [150, 300, 600];
/**
 * A webhook failing this long is disabled, at its next failed attempt. Chosen inside the window the
 * disabling test needs whatever the jitter: after a first failing delivery's third attempt (at most
 * 180 + 360 ms after its first, plus the ticks), so that it still goes dead; before the third attempt
 * of the one behind it (at least 840 + 360 ms after), so that the one behind is still pending when the
 * webhook is disabled. 1,500 ms, the nominal time of that third attempt, made the test a coin toss on
 * the jitter.
 */
const DISABLE_AFTER_MS = 1_000;
const test = fixtures({
  webhooks: { schedule: SCHEDULE, timeoutMs: 400, tickMs: 50, leaseMs: 5_000, disableAfterMs: DISABLE_AFTER_MS },
});

interface WebhookView {
  name: string;
  state: 'ACTIVE' | 'DISABLED';
  disabledReason: string | null;
  failingSince: string | null;
  cursor: string;
  backlog: number;
  dead: number;
  deliveringInstance: string | null;
  lastAttempt: { status: number | null; error: string | null } | null;
}
interface DeliveryView {
  id: string;
  msgId: string;
  event: string;
  state: 'PENDING' | 'DELIVERED' | 'DEAD';
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  body: string;
  log: {
    attempt: number;
    status: number | null;
    error: string | null;
    latencyMs: number;
    startedAt: string;
    responseBody: string | null;
  }[];
}

const WEBHOOK_FIELDS = 'name state disabledReason failingSince cursor backlog dead deliveringInstance lastAttempt { status error }';
const CREATE_WEBHOOK = doc<
  { createWebhook: { secret: string; webhook: WebhookView } },
  { name: string; url: string; subscription: string; variables?: unknown; ordering?: string; concurrency?: number; secret?: string }
>(
  `mutation ($name: String!, $url: String!, $subscription: String!, $variables: JSON, $ordering: WebhookOrdering, $concurrency: Int, $secret: String) {
     createWebhook(name: $name, url: $url, subscription: $subscription, variables: $variables, ordering: $ordering, concurrency: $concurrency, secret: $secret) {
       secret webhook { ${WEBHOOK_FIELDS} }
     }
   }`,
);
const WEBHOOK = doc<
  { webhook: (WebhookView & { deliveries: { edges: { node: DeliveryView }[] } }) | null },
  { name: string; state?: string }
>(
  `query ($name: String!, $state: WebhookDeliveryState) {
     webhook(name: $name) {
       ${WEBHOOK_FIELDS}
       deliveries(first: 100, state: $state) { edges { node { id msgId event state attempts lastStatus lastError body log { attempt status error latencyMs startedAt responseBody } } } }
     }
   }`,
);
const DISABLE = doc<{ disableWebhook: WebhookView }, { name: string }>(
  `mutation ($name: String!) { disableWebhook(name: $name) { ${WEBHOOK_FIELDS} } }`,
);
const ENABLE = doc<{ enableWebhook: WebhookView }, { name: string }>(
  `mutation ($name: String!) { enableWebhook(name: $name) { ${WEBHOOK_FIELDS} } }`,
);
const REDELIVER = doc<{ redeliverWebhook: DeliveryView }, { id: string }>(
  'mutation ($id: ID!) { redeliverWebhook(deliveryId: $id) { id state msgId } }',
);
const REDELIVER_SINCE = doc<{ redeliverWebhookSince: WebhookView }, { name: string; after: string }>(
  `mutation ($name: String!, $after: String!) { redeliverWebhookSince(name: $name, after: $after) { ${WEBHOOK_FIELDS} } }`,
);
const PING = doc<{ pingWebhook: { id: string; event: string } }, { name: string }>(
  'mutation ($name: String!) { pingWebhook(name: $name) { id event } }',
);
const ROTATE = doc<{ rotateWebhookSecret: { secret: string } }, { name: string }>(
  'mutation ($name: String!) { rotateWebhookSecret(name: $name) { secret } }',
);

const CREATE_TOKEN = doc<{ createToken: { token: string } }, { name: string; scope: string }>(
  'mutation ($name: String!, $scope: TokenScope!) { createToken(name: $name, scope: $scope) { token } }',
);

const QUEUED = `subscription ($filter: EventFilter) {
  buildQueued(filter: $filter) { buildId cursor build { id job jobset { name project { name } } } }
}`;

let jobs = 0;
/** A job name of its own, so a test's webhook sees only its builds. */
const uniqueJob = () => `webhook-job-${++jobs}`;

/** Queues a build of `job` and announces it as Hydra does (in a transaction); returns its id. */
async function queue(pool: import('pg').Pool, jobsetId: number, job: string): Promise<number> {
  const id = await insertBuild(pool, jobsetId, { job });
  await notify(pool, [['build_queued', String(id)]]);
  return id;
}

/**
 * Creates webhook `name` of the buildQueued document, filtered to `job`, towards `receiver`, and
 * waits for its ping there (the `n`-th request); returns its secret.
 */
async function queuedWebhook(
  gatewayUrl: string,
  name: string,
  receiver: Receiver,
  job: string,
  n = receiver.requests.length + 1,
): Promise<string> {
  const { createWebhook } = await requestData(gatewayUrl, CREATE_WEBHOOK, {
    name,
    url: receiver.url,
    subscription: QUEUED,
    variables: { filter: { job } },
  });
  await receiver.received(n);
  return createWebhook.secret;
}

/** Verifies a request with the reference library; returns the parsed payload. */
function verified(secret: string, request: Received): unknown {
  return new Webhook(secret).verify(request.body, request.headers);
}

const nonPing = (r: Received) => r.headers['hng-event'] !== 'ping';
const buildIdOf = (r: Received) => (r.json as { buildQueued?: { buildId: number } } | null)?.buildQueued?.buildId;

/** Resolves once the webhook's delivery log shows what `ready` wants. */
type Viewed = NonNullable<Awaited<ReturnType<typeof webhookOf>>>;
async function webhookWhen(url: string, name: string, ready: (w: Viewed) => boolean, what: string): Promise<Viewed> {
  let last: Viewed | null = null;
  await until(
    () => last !== null && ready(last),
    15_000,
    what,
    async () => {
      last = await webhookOf(url, name);
    },
  );
  return last!;
}
async function webhookOf(url: string, name: string) {
  return (await requestData(url, WEBHOOK, { name })).webhook;
}

describe('webhooks', () => {
  test('pings on creation, then POSTs exactly the data a WebSocket subscriber of the same document receives, signed per Standard Webhooks', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const receiver = await startReceiver();
    const job = uniqueJob();
    const variables = { filter: { job } };
    const subscribers = gateway.hub.size;
    const live = subscribeWs<{ buildQueued: unknown }, typeof variables>(wsClient(gateway.url), doc(QUEUED), variables);
    await until(() => gateway.hub.size > subscribers, 10_000, 'subscribed');
    const { createWebhook } = await requestData(gateway.url, CREATE_WEBHOOK, {
      name: 'queued',
      url: receiver.url,
      subscription: QUEUED,
      variables,
    });
    expect(createWebhook.secret).toMatch(/^whsec_/);
    expect(createWebhook.webhook).toMatchObject({ name: 'queued', state: 'ACTIVE', failingSince: null });

    const [ping] = await receiver.received(1);
    expect(ping!.headers['hng-event']).toBe('ping');
    expect(verified(createWebhook.secret, ping!)).toMatchObject({ ping: { webhook: 'queued' } });

    const ids = [await queue(db.pool, jobsetId, job), await queue(db.pool, jobsetId, job), await queue(db.pool, jobsetId, uniqueJob())];
    const requests = await receiver.received(3);
    const events = requests.filter(nonPing);
    expect(events).toHaveLength(2);
    const expected = [(await live.nextData()).buildQueued, (await live.nextData()).buildQueued];
    for (const [i, request] of events.entries()) {
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['hng-event']).toBe('buildQueued');
      // The body is the data the document selects, byte for byte what verify() accepted.
      expect(verified(createWebhook.secret, request)).toEqual({ buildQueued: expected[i] });
      expect(request.headers['hng-cursor']).toBe((expected[i] as { cursor: string }).cursor);
    }
    expect(events.map((r) => (r.json as { buildQueued: { buildId: number } }).buildQueued.buildId)).toEqual(ids.slice(0, 2));
    // The message ids differ per event; a tampered body fails verification.
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(3);
    expect(() => new Webhook(createWebhook.secret).verify(events[0]!.body.replace('buildId', 'buildID'), events[0]!.headers)).toThrow();

    const view = await webhookWhen(
      gateway.url,
      'queued',
      (w) => w.deliveries.edges.filter((e: { node: DeliveryView }) => e.node.state === 'DELIVERED').length === 3,
      'three delivered',
    );
    expect(view.backlog).toBe(0);
    expect(view.deliveringInstance).toBe(gateway.instance);
    const first = view.deliveries.edges.at(-1)!.node as DeliveryView;
    expect(first.event).toBe('ping');
    expect(first.log).toEqual([expect.objectContaining({ attempt: 1, status: 200, error: null, responseBody: '{"ok":true}' })]);

    // After a rotation both secrets sign, so a receiver still on the old one verifies.
    const { rotateWebhookSecret } = await requestData(gateway.url, ROTATE, { name: 'queued' });
    await requestData(gateway.url, PING, { name: 'queued' });
    const [, , , rotated] = await receiver.received(4);
    expect(rotated!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verified(createWebhook.secret, rotated!)).toMatchObject({ ping: { webhook: 'queued' } });
    expect(verified(rotateWebhookSecret.secret, rotated!)).toMatchObject({ ping: { webhook: 'queued' } });
  });

  test('retries a 500 on the schedule, then logs every attempt', async ({ db, gateway, jobsetId }) => {
    let failures = 2;
    const receiver = await startReceiver((r) => (nonPing(r) && failures-- > 0 ? { status: 500, body: 'boom' } : { status: 204, body: '' }));
    const job = uniqueJob();
    await queuedWebhook(gateway.url, 'retried', receiver, job);
    const id = await queue(db.pool, jobsetId, job);
    const attempts = (await receiver.received(4)).slice(1);
    expect(attempts.map((r) => r.headers['webhook-id'])).toEqual(Array(3).fill(attempts[0]!.headers['webhook-id']));
    // Each retry waits its delay of the schedule (less at most 20 % jitter).
    expect(attempts[1]!.startedAt - attempts[0]!.endedAt!).toBeGreaterThanOrEqual(SCHEDULE[0]! * 0.8 - 5);
    expect(attempts[2]!.startedAt - attempts[1]!.endedAt!).toBeGreaterThanOrEqual(SCHEDULE[1]! * 0.8 - 5);
    const view = await webhookWhen(gateway.url, 'retried', (w) => w.deliveries.edges[0]?.node.state === 'DELIVERED', 'delivered');
    const delivery = view.deliveries.edges[0]!.node as DeliveryView;
    expect(JSON.parse(delivery.body).buildQueued.buildId).toBe(id);
    expect(delivery.log.map((a) => [a.attempt, a.status, a.error, a.responseBody])).toEqual([
      [1, 500, 'HTTP 500 Internal Server Error', 'boom'],
      [2, 500, 'HTTP 500 Internal Server Error', 'boom'],
      [3, 204, null, null],
    ]);
    expect(view.failingSince).toBeNull();
    const metrics = await scrape(gateway.url);
    expect(metrics.value('hng_webhook_deliveries_total', { webhook: 'retried', outcome: 'retry' })).toBe(2);
    expect(metrics.value('hng_webhook_deliveries_total', { webhook: 'retried', outcome: 'delivered' })).toBe(2);
    expect(metrics.value('hng_webhook_backlog', { webhook: 'retried' })).toBe(0);
    expect(metrics.value('hng_webhook_active', { webhook: 'retried' })).toBe(1);
  });

  test('retries a timeout and a refused connection, and honours Retry-After over the schedule', async ({ db, gateway, jobsetId }) => {
    // A timeout: the endpoint holds the first request past the 400 ms deadline.
    let held = false;
    const slow = await startReceiver((r) => (nonPing(r) && !held ? ((held = true), { hang: true }) : { status: 200 }));
    const job = uniqueJob();
    await queuedWebhook(gateway.url, 'slow', slow, job);
    await queue(db.pool, jobsetId, job);
    await slow.received(3);
    let view = await webhookWhen(
      gateway.url,
      'slow',
      (w) => w.deliveries.edges[0]?.node.state === 'DELIVERED',
      'delivered after a timeout',
    );
    expect((view.deliveries.edges[0]!.node as DeliveryView).log.map((a) => [a.status, a.error])).toEqual([
      [null, 'no answer within 400 ms'],
      [200, null],
    ]);

    // A refusal: nothing listens on the port.
    const port = await freePort();
    const refusedJob = uniqueJob();
    await requestData(gateway.url, CREATE_WEBHOOK, {
      name: 'refused',
      url: `http://127.0.0.1:${port}/hook`,
      subscription: QUEUED,
      variables: { filter: { job: refusedJob } },
    });
    view = await webhookWhen(gateway.url, 'refused', (w) => (w.deliveries.edges[0]?.node.attempts ?? 0) >= 2, 'two refused attempts');
    const ping = view.deliveries.edges[0]!.node as DeliveryView;
    expect(ping.state).toBe('PENDING');
    expect(ping.log[0]!.status).toBeNull();
    expect(ping.log[0]!.error).toMatch(/ECONNREFUSED/);
    const gap = Date.parse(ping.log[1]!.startedAt) - Date.parse(ping.log[0]!.startedAt);
    expect(gap).toBeGreaterThanOrEqual(SCHEDULE[0]! * 0.8 - 5);

    // Retry-After: 1 s asked on a 503 wins over the 150 ms of the schedule.
    let limited = false;
    const busy = await startReceiver((r) =>
      nonPing(r) && !limited ? ((limited = true), { status: 503, headers: { 'retry-after': '1' } }) : { status: 200 },
    );
    const busyJob = uniqueJob();
    await queuedWebhook(gateway.url, 'busy', busy, busyJob);
    await queue(db.pool, jobsetId, busyJob);
    const [, asked, retried] = await busy.received(3);
    expect(retried!.startedAt - asked!.endedAt!).toBeGreaterThanOrEqual(950);
  });

  test('a delivery that fails every attempt is dead; a webhook failing for HNG_WEBHOOK_DISABLE_AFTER_MS is disabled with the reason, and resumes where it stopped when enabled', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    let healthy = false;
    const receiver = await startReceiver((r) => (healthy || !nonPing(r) ? { status: 200 } : { status: 500, body: 'down for maintenance' }));
    const job = uniqueJob();
    await queuedWebhook(gateway.url, 'failing', receiver, job);
    const first = await queue(db.pool, jobsetId, job);
    // Attempts 1 + 3 retries, then dead: the next delivery goes on failing (or waits) until the webhook is
    // disabled, DISABLE_AFTER_MS after the first failure, before its own attempts run out.
    const second = await queue(db.pool, jobsetId, job);
    const disabled = await webhookWhen(gateway.url, 'failing', (w) => w.state === 'DISABLED', 'disabled');
    expect(disabled.disabledReason).toMatch(/every delivery attempt failed since .* the last: HTTP 500/);
    expect(disabled.deliveringInstance).toBeNull();
    const dead = (await webhookOf(gateway.url, 'failing'))!.deliveries.edges
      .map((e) => e.node)
      .find((d) => JSON.parse(d.body).buildQueued?.buildId === first)!;
    expect(dead).toMatchObject({ state: 'DEAD', attempts: SCHEDULE.length + 1, lastStatus: 500 });

    // While disabled nothing is sent, and events go on being journaled.
    const countWhileDisabled = receiver.requests.length;
    const third = await queue(db.pool, jobsetId, job);
    healthy = true;
    const enabled = await requestData(gateway.url, ENABLE, { name: 'failing' });
    expect(enabled.enableWebhook).toMatchObject({ state: 'ACTIVE', disabledReason: null, failingSince: null });
    await until(
      () =>
        receiver.requests
          .slice(countWhileDisabled)
          .some((r) => (r.json as { buildQueued?: { buildId: number } }).buildQueued?.buildId === third),
      15_000,
      'the event journaled while disabled',
    );
    const afterEnable = receiver.requests
      .slice(countWhileDisabled)
      .map((r) => (r.json as { buildQueued: { buildId: number } }).buildQueued.buildId);
    // The second was pending when it was disabled: it goes first, then the third; the dead one stays dead.
    expect(afterEnable).toEqual([second, third]);

    // Redelivering the dead one sends it again, with the same webhook-id.
    const deadMsg = receiver.requests.find((r) => (r.json as { buildQueued?: { buildId: number } }).buildQueued?.buildId === first)!
      .headers['webhook-id'];
    await requestData(gateway.url, REDELIVER, { id: dead.id });
    await until(
      () => receiver.requests.filter((r) => r.headers['webhook-id'] === deadMsg && r.endedAt && r.n > countWhileDisabled).length === 1,
      15_000,
      'redelivered',
    );
    const view = await webhookWhen(gateway.url, 'failing', (w) => w.dead === 0 && w.backlog === 0, 'nothing dead or pending');
    expect(view.state).toBe('ACTIVE');
  });

  test('redelivers everything since a cursor with new message ids', async ({ db, gateway, jobsetId }) => {
    const receiver = await startReceiver();
    const job = uniqueJob();
    await queuedWebhook(gateway.url, 'replayed', receiver, job);
    const ids = [await queue(db.pool, jobsetId, job), await queue(db.pool, jobsetId, job), await queue(db.pool, jobsetId, job)];
    const sent = (await receiver.received(4)).slice(1);
    const firstCursor = sent[0]!.headers['hng-cursor']!;
    await requestData(gateway.url, REDELIVER_SINCE, { name: 'replayed', after: firstCursor });
    const again = (await receiver.received(6)).slice(4);
    expect(again.map((r) => (r.json as { buildQueued: { buildId: number } }).buildQueued.buildId)).toEqual(ids.slice(1));
    expect(again.map((r) => r.headers['webhook-id'])).not.toEqual(sent.slice(1).map((r) => r.headers['webhook-id']));
    // A cursor from elsewhere is refused, saying why.
    const bad = await request(gateway.url, REDELIVER_SINCE, { name: 'replayed', after: 'bm9wZQ' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('a gap reaches the endpoint as a gap event, between the events around it', async ({ db, gateway, jobsetId }) => {
    const receiver = await startReceiver();
    const document = 'subscription { buildQueued { buildId } }';
    await requestData(gateway.url, CREATE_WEBHOOK, { name: 'gaps', url: receiver.url, subscription: document });
    await receiver.received(1);
    const before = await queue(db.pool, jobsetId, uniqueJob());
    await receiver.received(2);
    const reconnects = gateway.listener.status.reconnects;
    await db.pool.query('SELECT pg_terminate_backend($1)', [gateway.listener.status.backendPid]);
    await until(() => gateway.listener.status.reconnects === reconnects + 1 && gateway.recorder.recording, 15_000, 'listening again');
    const after = await queue(db.pool, jobsetId, uniqueJob());
    await until(
      () => receiver.requests.some((r) => (r.json as { buildQueued?: { buildId: number } }).buildQueued?.buildId === after),
      15_000,
      'the event after the gap',
    );
    const kinds = receiver.requests.slice(1).map((r) => r.headers['hng-event']);
    expect(kinds).toEqual(['buildQueued', 'gap', 'buildQueued']);
    const gap = receiver.requests[2]!.json as { gap: { from: string; to: string; reason: string } };
    expect(Date.parse(gap.gap.to)).toBeGreaterThanOrEqual(Date.parse(gap.gap.from));
    expect(gap.gap.reason).toMatch(/no gateway instance listened/);
    expect((receiver.requests[1]!.json as { buildQueued: { buildId: number } }).buildQueued.buildId).toBe(before);
  });

  test("bound to a consumer, each 2xx acknowledges its occurrence (compare-and-set), and Hydra's column is cleared", async ({
    db,
    gateway,
    jobsetId,
  }) => {
    await requestData(gateway.url, CREATE, { name: 'release-sync' });
    const receiver = await startReceiver();
    const document =
      'subscription { buildFinished(consumer: "release-sync") { buildId pendingSince consumer deliveryCount build { id finished buildStatus } } }';
    await requestData(gateway.url, CREATE_WEBHOOK, { name: 'release', url: receiver.url, subscription: document });
    await receiver.received(1);
    const [a, b] = [await insertBuild(db.pool, jobsetId), await insertBuild(db.pool, jobsetId)];
    const since = await finishBuilds(db.pool, [a, b], { status: 0 });
    await notify(db.pool, [['build_finished', `${a}\t${b}`]]);
    const sent = (await receiver.received(3)).slice(1);
    expect(sent.map((r) => (r.json as { buildFinished: { buildId: number } }).buildFinished.buildId).sort()).toEqual([a, b].sort());
    expect(sent[0]!.json).toMatchObject({
      buildFinished: {
        pendingSince: new Date(since * 1000).toISOString(),
        consumer: 'release-sync',
        deliveryCount: 1,
        build: { finished: true },
      },
    });
    let column: (number | null)[] = [];
    await until(
      () => column.every((c) => c === null),
      15_000,
      "Hydra's column cleared",
      async () => {
        column = [await pendingColumn(db.pool, a), await pendingColumn(db.pool, b)];
      },
    );
    // Already acknowledged by the webhook: a second acknowledgement says so.
    const again = await requestData(gateway.url, ACK, {
      consumer: 'release-sync',
      buildId: a,
      pendingSince: new Date(since * 1000).toISOString(),
    });
    expect(JSON.stringify(again)).toContain('ALREADY_ACKNOWLEDGED');
  });

  test('per-build ordering delivers builds concurrently, each build in order, within the concurrency', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const receiver = await startReceiver((r) => (nonPing(r) ? { status: 200, delayMs: 150 } : { status: 200 }));
    const job = uniqueJob();
    const document = `subscription ($filter: EventFilter) {
      events(filter: $filter, channels: [BUILD_QUEUED, BUILD_STARTED]) { channel ... on BuildQueuedEvent { buildId } ... on BuildStartedEvent { buildId } }
    }`;
    await requestData(gateway.url, CREATE_WEBHOOK, {
      name: 'per-build',
      url: receiver.url,
      subscription: document,
      variables: { filter: { job } },
      ordering: 'BUILD',
      concurrency: 2,
    });
    await receiver.received(1);
    const ids = [
      await insertBuild(db.pool, jobsetId, { job }),
      await insertBuild(db.pool, jobsetId, { job }),
      await insertBuild(db.pool, jobsetId, { job }),
    ];
    await notify(
      db.pool,
      ids.map((id) => ['build_queued', String(id)] as const),
    );
    await notify(
      db.pool,
      ids.map((id) => ['build_started', String(id)] as const),
    );
    const sent = (await receiver.received(7)).slice(1);
    expect(receiver.maxInFlight).toBe(2);
    for (const id of ids) {
      const mine = sent.filter((r) => JSON.stringify(r.json).includes(`"buildId":${id}`));
      expect(mine).toHaveLength(2);
      // Its queued one was answered before its started one was sent.
      expect(mine[0]!.endedAt!).toBeLessThanOrEqual(mine[1]!.startedAt);
      expect(JSON.stringify(mine[0]!.json)).toContain('build_queued');
    }
  });

  test('refuses what it cannot deliver, saying why, and only to admins', async ({ gateway }) => {
    const receiver = await startReceiver();
    const ackToken = (await requestData(gateway.url, CREATE_TOKEN, { name: 'webhook-ack', scope: 'ACK' })).createToken.token;
    const tryCreate = (vars: Record<string, unknown>, token?: string) =>
      request(
        gateway.url,
        CREATE_WEBHOOK,
        { name: 'x', url: receiver.url, subscription: QUEUED, ...vars } as never,
        token ? { token } : {},
      );
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ subscription: 'subscription {' }, 'BAD_USER_INPUT', /does not parse/],
      [{ subscription: 'query { projects { name } }' }, 'BAD_USER_INPUT', /one subscription/],
      [{ subscription: 'subscription { buildQueued { nope } }' }, 'BAD_USER_INPUT', /not valid/],
      [{ subscription: 'subscription { buildQueued { buildId } buildStarted { buildId } }' }, 'BAD_USER_INPUT', /only one top level field/],
      [{ subscription: 'subscription { buildQueued(after: "x") { buildId } }' }, 'BAD_USER_INPUT', /takes no after/],
      [{ variables: { filter: { job: 3 } } }, 'BAD_USER_INPUT', /variables do not fit/],
      [{ variables: [1] }, 'BAD_USER_INPUT', /variables must be an object/],
      [{ url: 'ftp://example.org/' }, 'BAD_USER_INPUT', /http or https/],
      [{ url: 'not a url' }, 'BAD_USER_INPUT', /not a URL/],
      [{ secret: 'hunter2' }, 'BAD_USER_INPUT', /whsec_/],
      [{ name: 'Bad Name' }, 'BAD_USER_INPUT', /webhook names/],
      [{ concurrency: 0 }, 'BAD_USER_INPUT', /concurrency is 1 to 64/],
      [{ subscription: 'subscription { buildFinished(consumer: "nobody") { buildId } }' }, 'NOT_FOUND', /no consumer named "nobody"/],
    ];
    for (const [vars, code, message] of cases) {
      const result = await tryCreate(vars);
      expect(result.errors?.[0]?.extensions?.code, JSON.stringify(vars)).toBe(code);
      expect(result.errors?.[0]?.message).toMatch(message);
    }
    expect((await tryCreate({}, ackToken)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await request(gateway.url, WEBHOOK, { name: 'x' }, { token: ackToken })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Nothing was created, and nothing was sent.
    expect(await webhookOf(gateway.url, 'x')).toBeNull();
    expect(receiver.requests).toHaveLength(0);
    await tryCreate({ name: 'taken' });
    expect((await tryCreate({ name: 'taken' })).errors?.[0]?.extensions?.code).toBe('ALREADY_EXISTS');
    expect((await request(gateway.url, REDELIVER, { id: '999999' })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  test('a webhook whose stored document no longer compiles (the schema changed under it) is disabled, saying why', async ({
    db,
    gateway,
  }) => {
    const receiver = await startReceiver();
    await queuedWebhook(gateway.url, 'outdated', receiver, uniqueJob());
    // As a newer gateway without that field would find it.
    await db.pool.query(
      "UPDATE hydra_notify_gateway.webhooks SET document = 'subscription { buildQueued { buildId removedField } }' WHERE name = 'outdated'",
    );
    await requestData(gateway.url, PING, { name: 'outdated' });
    const disabled = await webhookWhen(gateway.url, 'outdated', (w) => w.state === 'DISABLED', 'disabled');
    expect(disabled.disabledReason).toMatch(/no longer compiles .*Cannot query field "removedField"/);
  });

  // Last: it prunes the whole journal.
  test('retention prunes settled deliveries with the journal, keeps pending ones, and a webhook that had not read the pruned events gets a gap saying so', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const receiver = await startReceiver();
    const job = uniqueJob();
    await queuedWebhook(gateway.url, 'settled', receiver, job);
    await queuedWebhook(gateway.url, 'late', receiver, job);
    await requestData(gateway.url, DISABLE, { name: 'late' });
    const pruned = await queue(db.pool, jobsetId, job);
    await until(() => receiver.requests.some((r) => buildIdOf(r) === pruned), 15_000, 'delivered to settled');
    await webhookWhen(gateway.url, 'settled', (w) => w.backlog === 0, 'settled has nothing pending');
    await requestData(gateway.url, PING, { name: 'late' });

    await gateway.retention.prune(new Date(Date.now() + 60_000));
    expect((await webhookOf(gateway.url, 'settled'))!.deliveries.edges).toHaveLength(0);
    // The ping queued while it was disabled is pending: retention leaves it.
    expect((await webhookOf(gateway.url, 'late'))!.deliveries.edges.map((e) => [e.node.event, e.node.state])).toEqual([
      ['ping', 'PENDING'],
    ]);

    const count = receiver.requests.length;
    await requestData(gateway.url, ENABLE, { name: 'late' });
    const next = await queue(db.pool, jobsetId, job);
    await until(
      () => receiver.requests.slice(count).some((r) => buildIdOf(r) === next && r.headers['hng-webhook'] === 'late'),
      15_000,
      'late caught up',
    );
    const kinds = receiver.requests
      .slice(count)
      .filter((r) => r.headers['hng-webhook'] === 'late')
      .map((r) => r.headers['hng-event']);
    expect(kinds).toEqual(['ping', 'gap', 'buildQueued']);
    const gap = receiver.requests.slice(count).find((r) => r.headers['hng-event'] === 'gap')!.json as { gap: { reason: string } };
    expect(gap.gap.reason).toMatch(/^retention pruned the events after \S+ before this webhook delivered them$/);
  });
});

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
