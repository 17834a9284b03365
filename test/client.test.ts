/**
 * The client module (hydra-notify-gateway/client) against real gateways: it
 * subscribes over graphql-ws with a token, and when the gateway restarts it
 * subscribes again after the last cursor by itself, so the events journaled
 * meanwhile arrive and none twice; what no retry cures (a bad token, a
 * refused cursor) ends the iteration with the gateway's code. The consumer
 * loop processes each delivery once, acknowledges it, says what the
 * acknowledgement found, and survives a restart of the gateway in the middle
 * of a delivery.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  type Acknowledgement,
  AcknowledgeBuildFinishedDocument,
  BuildQueuedDocument,
  ConsumerByNameDocument,
  type ConsumerDelivery,
  createGatewayClient,
  CreateConsumerDocument,
  GatewayClosedError,
  GatewayResponseError,
  RESUMABLE_CODES,
  RETRY_LATER_CODES,
  runConsumer,
} from '../src/client/index.js';
import { ERROR_CODES } from '../src/errors.js';
import { gatewayClient, until } from './support/clients.js';
import { caughtUp, finishAndNotify, iso } from './support/consumers.js';
import { createTestDatabase, notify } from './support/database.js';
import { recordingGateway, test } from './support/fixtures.js';
import type { TestGateway } from './support/gateway.js';
import { insertBuild, insertBuildsOneByOne, restartBuild, seedJobset } from './support/hydra.js';
import { freePort } from './support/ports.js';

/** Reads an async iterable into `items` in the background; `done` settles when it ends. */
function collect<E>(iterable: AsyncIterable<E>) {
  const items: E[] = [];
  const done = (async () => {
    for await (const item of iterable) items.push(item);
  })();
  done.catch(() => {});
  return { items, done };
}

/** A gate a token function waits on: `close()` holds connections back until `open()`. */
function gate() {
  let opened: Promise<void> = Promise.resolve();
  let release = () => {};
  return {
    wait: () => opened,
    close: () => (opened = new Promise<void>((resolve) => (release = resolve))),
    open: () => release(),
  };
}

describe('errors', () => {
  it('the codes the client resubscribes or retries after are codes the gateway sends', () => {
    expect(RESUMABLE_CODES.filter((code) => !(code in ERROR_CODES))).toEqual([]);
    expect(RESUMABLE_CODES.length).toBeGreaterThan(0);
    expect(RETRY_LATER_CODES.filter((code) => !(code in ERROR_CODES))).toEqual([]);
    expect(RETRY_LATER_CODES).toContain('DATABASE_UNAVAILABLE');
  });
});

describe('subscriptions', () => {
  test('resume after a gateway restart from the last cursor: what was journaled meanwhile arrives, nothing twice', async () => {
    // A database of its own: its gateways must be the only ones recording there.
    const db = await createTestDatabase();
    const jobsetId = await seedJobset(db.pool);
    const port = await freePort();
    const first = await recordingGateway(db.url, { port });
    const held = gate();
    const resumed: (string | null)[] = [];
    const client = gatewayClient(first, {
      token: async () => {
        await held.wait();
        return first.adminToken;
      },
    });
    const subscription = client.subscribe(BuildQueuedDocument, {}, { onResume: (after) => resumed.push(after) });
    const events = collect(subscription);
    await until(() => first.hub.size === 1, 10_000, 'subscribed');

    const ids = await insertBuildsOneByOne(db.pool, jobsetId, 6);
    for (const id of ids.slice(0, 3)) await notify(db.pool, [['build_queued', String(id)]]);
    await until(() => events.items.length === 3, 10_000, 'three events');
    const lastBefore = events.items[2]!.cursor;

    // The gateway restarts; the client cannot connect again until the gate opens.
    held.close();
    await first.close();
    const second = await recordingGateway(db.url, { port });
    for (const id of ids.slice(3, 5)) await notify(db.pool, [['build_queued', String(id)]]);
    await caughtUp(db, second);
    held.open();

    await until(() => events.items.length === 5, 20_000, 'the two journaled while the client was away');
    await until(() => second.hub.size === 1, 10_000, 'subscribed again');
    await notify(db.pool, [['build_queued', String(ids[5])]]);
    await until(() => events.items.length === 6, 10_000, 'a live one');

    expect(events.items.map((e) => e.buildId)).toEqual(ids);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(new Set(resumed)).toEqual(new Set([lastBefore]));
    expect(subscription.cursor).toBe(events.items[5]!.cursor);
    await client.dispose();
    await events.done;
    await second.close();
  });

  test('start after a saved cursor: the events after it, then live ones', async ({ db, gateway, jobsetId }) => {
    const client = gatewayClient(gateway);
    const ids = await insertBuildsOneByOne(db.pool, jobsetId, 3);
    const live = collect(client.subscribe(BuildQueuedDocument, {}));
    await until(() => gateway.hub.size === 1, 10_000, 'subscribed');
    for (const id of ids) await notify(db.pool, [['build_queued', String(id)]]);
    await until(() => live.items.length === 3, 10_000, 'three events');

    const subscription = client.subscribe(BuildQueuedDocument, {}, { after: live.items[0]!.cursor });
    expect(subscription.cursor).toBe(live.items[0]!.cursor);
    const resumed = collect(subscription);
    await until(() => resumed.items.length === 2, 10_000, 'the two after the cursor');
    expect(resumed.items.map((e) => e.buildId)).toEqual(ids.slice(1));
    await client.dispose();
  });

  test('a bad token ends the iteration with the close code 4401, instead of retrying forever', async ({ gateway }) => {
    const client = gatewayClient(gateway, { token: 'hng_00000000000000000000000000000000' });
    const events = collect(client.subscribe(BuildQueuedDocument, {}));
    const error = await events.done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GatewayClosedError);
    expect((error as GatewayClosedError).code).toBe(4401);
  });

  test('a cursor the gateway refuses ends the iteration with its code', async ({ gateway }) => {
    const client = gatewayClient(gateway);
    const events = collect(client.subscribe(BuildQueuedDocument, {}, { after: 'not-a-cursor' }));
    const error = await events.done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GatewayResponseError);
    expect((error as GatewayResponseError).code).toBe('BAD_USER_INPUT');
  });
});

describe('requests', () => {
  test('run queries and mutations with the token; refusals carry their code', async ({ gateway }) => {
    const client = gatewayClient(gateway);
    const { createConsumer } = await client.request(CreateConsumerDocument, { name: 'requests' });
    expect(createConsumer).toMatchObject({ name: 'requests', paused: false, pending: 0 });
    expect((await client.request(ConsumerByNameDocument, { name: 'requests' })).consumer?.name).toBe('requests');

    const taken = await client.request(CreateConsumerDocument, { name: 'requests' }).catch((e: unknown) => e);
    expect(taken).toBeInstanceOf(GatewayResponseError);
    expect((taken as GatewayResponseError).code).toBe('ALREADY_EXISTS');

    const anonymous = createGatewayClient({ url: gateway.url, webSocketImpl: WebSocket });
    const refused = await anonymous
      .request(AcknowledgeBuildFinishedDocument, { buildId: 1, pendingSince: new Date().toISOString() })
      .catch((e: unknown) => e);
    expect((refused as GatewayResponseError).code).toBe('UNAUTHENTICATED');
    expect((refused as GatewayResponseError).status).toBe(401);
  });
});

describe('the consumer loop', () => {
  test('processes each delivery, acknowledges it and says what the acknowledgement found', async ({ db, gateway, jobsetId }) => {
    const client = gatewayClient(gateway);
    await client.request(CreateConsumerDocument, { name: 'outcomes' });
    const [a, b, c] = await insertBuildsOneByOne(db.pool, jobsetId, 3);
    const t1 = Math.floor(Date.now() / 1000) - 100;
    const handled: string[] = [];
    const acks: Acknowledgement[] = [];
    const abort = new AbortController();

    const loop = runConsumer(client, {
      consumer: 'outcomes',
      signal: abort.signal,
      onAcknowledged: (ack) => acks.push(ack),
      handle: async (delivery: ConsumerDelivery) => {
        handled.push(`${delivery.buildId}@${delivery.pendingSince}`);
        // Someone else acknowledged it while we processed it.
        if (delivery.buildId === b)
          await client.request(AcknowledgeBuildFinishedDocument, {
            consumer: 'outcomes',
            buildId: b,
            pendingSince: delivery.pendingSince!,
          });
        // Restarted and finished again while we processed the first finish.
        if (delivery.buildId === c && delivery.pendingSince === iso(t1)) {
          await restartBuild(db.pool, c);
          await finishAndNotify(db.pool, [c], t1 + 50);
          await caughtUp(db, gateway);
        }
      },
    });
    for (const id of [a, b, c]) await finishAndNotify(db.pool, [id], t1);
    await until(() => acks.length === 4, 15_000, 'four acknowledgements');
    abort.abort();
    await loop;

    expect(handled).toEqual([`${a}@${iso(t1)}`, `${b}@${iso(t1)}`, `${c}@${iso(t1)}`, `${c}@${iso(t1 + 50)}`]);
    expect(acks.map((ack) => [ack.delivery.buildId, ack.delivery.pendingSince, ack.outcome, ack.currentPendingSince])).toEqual([
      [a, iso(t1), 'ACKNOWLEDGED', null],
      [b, iso(t1), 'ALREADY_ACKNOWLEDGED', null],
      [c, iso(t1), 'ACKNOWLEDGED', null],
      [c, iso(t1 + 50), 'ACKNOWLEDGED', null],
    ]);
    expect((await client.request(ConsumerByNameDocument, { name: 'outcomes' })).consumer?.pending).toBe(0);
  });

  test('a handler that throws leaves the delivery pending and stops the loop, unless onHandlerError is given', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const client = gatewayClient(gateway);
    await client.request(CreateConsumerDocument, { name: 'throws' });
    const id = await insertBuild(db.pool, jobsetId);
    await finishAndNotify(db.pool, [id]);
    const failure = await runConsumer(client, {
      consumer: 'throws',
      handle: () => {
        throw new Error('the release server is down');
      },
    }).catch((e: unknown) => e);
    expect((failure as Error).message).toBe('the release server is down');
    expect((await client.request(ConsumerByNameDocument, { name: 'throws' })).consumer?.pending).toBe(1);
    await until(() => gateway.hub.size === 0, 10_000, 'the loop unsubscribed');
  });

  test('survives a gateway restart in the middle of a delivery: nothing lost, nothing processed twice', async () => {
    const db = await createTestDatabase();
    const jobsetId = await seedJobset(db.pool);
    const port = await freePort();
    const first = await recordingGateway(db.url, { port });
    let second: Promise<TestGateway> | null = null;
    const client = gatewayClient(first, {
      // The first request that finds no gateway starts the next one: the acknowledgement is retried until it answers.
      fetch: async (...args) => {
        try {
          return await fetch(...args);
        } catch (error) {
          second ??= recordingGateway(db.url, { port });
          throw error;
        }
      },
    });
    await client.request(CreateConsumerDocument, { name: 'restarts' });
    const [x, y, z] = await insertBuildsOneByOne(db.pool, jobsetId, 3);
    const handled: number[] = [];
    const acks: Acknowledgement[] = [];
    const abort = new AbortController();

    const loop = runConsumer(client, {
      consumer: 'restarts',
      signal: abort.signal,
      onAcknowledged: (ack) => acks.push(ack),
      handle: async (delivery: ConsumerDelivery) => {
        handled.push(delivery.buildId);
        if (delivery.buildId !== x) return;
        // The gateway goes away after x was processed, before its acknowledgement;
        // y finishes while no gateway listens (its build_finished is lost).
        await first.close();
        await finishAndNotify(db.pool, [y]);
      },
    });
    await finishAndNotify(db.pool, [x]);
    await until(() => acks.some((ack) => ack.delivery.buildId === y), 30_000, 'y, reconciled after the restart, acknowledged');
    await finishAndNotify(db.pool, [z]);
    await until(() => acks.some((ack) => ack.delivery.buildId === z), 15_000, 'z acknowledged');
    abort.abort();
    await loop;

    expect(handled.sort()).toEqual([x, y, z].sort());
    expect(acks.filter((ack) => ack.outcome === 'ACKNOWLEDGED').map((ack) => ack.delivery.buildId)).toEqual([x, y, z]);
    expect(acks.filter((ack) => ack.outcome !== 'ACKNOWLEDGED').map((ack) => [ack.delivery.buildId, ack.outcome])).toEqual(
      acks.filter((ack) => ack.outcome !== 'ACKNOWLEDGED').map(() => [x, 'ALREADY_ACKNOWLEDGED']),
    );
    expect((await client.request(ConsumerByNameDocument, { name: 'restarts' })).consumer?.pending).toBe(0);
    await client.dispose();
    await (await second!).close();
  });
});
