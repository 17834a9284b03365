/**
 * Two gateway processes over one database deliver one webhook: exactly one
 * holds it at a time. The delivering one is SIGKILLed while a request is
 * in flight (the endpoint holds it); the other takes the webhook over once
 * the lease expires and sends the interrupted delivery again, with the same
 * webhook-id, after the first request's connection died, never beside it;
 * then everything that followed, in order. Nothing is lost.
 */
import { Webhook } from 'standardwebhooks';
import { describe, expect } from 'vitest';
import { requestData, until } from './support/clients.js';
import { type ChildGateway, metric, shareAdminToken, startChildGateway } from './support/child.js';
import { doc } from './support/consumers.js';
import { notify } from './support/database.js';
import { test } from './support/fixtures.js';
import { insertBuild } from './support/hydra.js';
import { type Received, startReceiver } from './support/receiver.js';

const VARS = {
  HNG_ANONYMOUS: 'none',
  HNG_WEBHOOK_LEASE_MS: '4000',
  HNG_WEBHOOK_TIMEOUT_MS: '1000',
  HNG_WEBHOOK_RETRY_SCHEDULE: '200ms,400ms,800ms,1s,1s,1s,1s,1s',
  HNG_RECORDER_RETRY_MS: '100',
  HNG_HEARTBEAT_MS: '200',
};

const CREATE = doc<{ createWebhook: { secret: string } }, { url: string }>(
  `mutation ($url: String!) {
     createWebhook(name: "failover", url: $url, subscription: "subscription { buildQueued { buildId } }") { secret }
   }`,
);
const HOLDER = doc<{ webhook: { deliveringInstance: string | null; backlog: number } }, Record<string, never>>(
  'query { webhook(name: "failover") { deliveringInstance backlog } }',
);

const buildIdOf = (r: Received) => (r.json as { buildQueued?: { buildId: number } }).buildQueued?.buildId;

describe('webhook failover', () => {
  test('the delivering instance SIGKILLed mid-request: the other takes over, resends that delivery once the first connection is gone, loses nothing', async ({
    db,
    jobsetId,
  }) => {
    const gateways: Record<string, ChildGateway> = {};
    for (const name of ['a', 'b']) gateways[name] = await startChildGateway(db.url, { ...VARS, HNG_INSTANCE: name });
    await shareAdminToken(Object.values(gateways));

    // The third event's first request is held: its deliverer dies with it in flight.
    let held = 0;
    const receiver = await startReceiver((r) => (buildIdOf(r) !== undefined && ++held === 3 ? { hang: true } : { status: 200 }));
    const { secret } = (await requestData(gateways.a!.url, CREATE, { url: receiver.url })).createWebhook;
    await receiver.received(1);

    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await insertBuild(db.pool, jobsetId));
      await notify(db.pool, [['build_queued', String(ids.at(-1))]], i % 2 ? 'function' : 'statement');
    }
    await receiver.received(4);
    await until(() => receiver.inFlight() === 1, 10_000, 'the third request held');
    const holder = (await requestData(gateways.a!.url, HOLDER, {})).webhook.deliveringInstance!;
    expect(['a', 'b']).toContain(holder);
    const survivor = holder === 'a' ? gateways.b! : gateways.a!;
    process.kill(-gateways[holder]!.command.pid, 'SIGKILL');
    await gateways[holder]!.command.exited();
    await until(() => receiver.inFlight() === 0, 10_000, 'the held request abandoned');

    // The survivor records and delivers what follows too.
    let recording = 0;
    await until(
      () => recording === 1,
      15_000,
      'the survivor recording',
      async () => {
        recording = await metric(survivor.url, 'hng_recording', `{instance="${holder === 'a' ? 'b' : 'a'}"}`);
      },
    );
    for (let i = 0; i < 3; i++) {
      ids.push(await insertBuild(db.pool, jobsetId));
      await notify(db.pool, [['build_queued', String(ids.at(-1))]]);
    }
    await until(
      () => ids.every((id) => receiver.requests.some((r) => buildIdOf(r) === id && r.endedAt !== null)),
      30_000,
      'every event delivered',
    );

    const events = receiver.requests.filter((r) => buildIdOf(r) !== undefined);
    // Every one verifies, and the order of first arrivals is the journal's.
    for (const r of events) new Webhook(secret).verify(r.body, r.headers);
    const firsts = [...new Map(events.map((r) => [buildIdOf(r), r] as const)).keys()];
    expect(firsts).toEqual(ids);
    // The only event sent twice is the interrupted one, with the same webhook-id, after the first request ended.
    const third = events.filter((r) => buildIdOf(r) === ids[2]);
    expect(third).toHaveLength(2);
    expect(third[1]!.headers['webhook-id']).toBe(third[0]!.headers['webhook-id']);
    expect(third[1]!.startedAt).toBeGreaterThanOrEqual(third[0]!.endedAt!);
    expect(events.filter((r) => buildIdOf(r) !== ids[2])).toHaveLength(ids.length - 1);
    // Never two requests of this webhook at once (it delivers in order, one at a time).
    expect(receiver.maxInFlight).toBe(1);
    // The last response ended at the receiver a moment before the survivor recorded it as delivered.
    let after = { deliveringInstance: null as string | null, backlog: -1 };
    await until(
      () => after.backlog === 0,
      10_000,
      'the backlog drained',
      async () => {
        after = (await requestData(survivor.url, HOLDER, {})).webhook;
      },
    ).catch(() => {});
    expect(after).toEqual({ deliveringInstance: holder === 'a' ? 'b' : 'a', backlog: 0 });
    // Two processes to start, a lease to expire and the waits above: more than vitest's 30 s on a loaded machine.
  }, 120_000);
});
