/**
 * Webhook deliveries per second to a fast local endpoint (gateway alone),
 * beside the floor of this machine for the same requests: signed POSTs of
 * the same bodies sent straight from a loop in the bench process, as many at
 * once as the webhook may have in flight.
 *
 * Contract: each run starts a fresh gateway on a clone of the fan-out
 * database, creates one webhook per case (`webhook` ordering: one request at
 * a time; `build` ordering with `concurrency` builds at once) on an endpoint
 * in this process that answers 204 at once, waits for its ping, then sends
 * `plan.webhooks.events` build_queued in transactions of 100 (as an
 * evaluation commits) and times from the first commit to the last delivery
 * the endpoint received (each webhook-id counted once; duplicates and
 * failures reported). The floor signs with the same library
 * (standardwebhooks) and POSTs the bodies the gateway sent, over keep-alive
 * connections, at the same concurrency.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { Webhook } from 'standardwebhooks';
import { post } from '../clients/graphql.js';
import { nowUs } from '../support/clock.js';
import { crowdedNote, PhaseLoad } from '../support/load.js';
import { Notifier } from '../support/notifier.js';
import { CpuWindow } from '../support/proc.js';
import { progress } from '../support/progress.js';
import type { BenchContext, Scenario } from './scenario.js';

const CREATE = `mutation ($name: String!, $url: String!, $ordering: WebhookOrdering!, $concurrency: Int!) {
  createWebhook(name: $name, url: $url, subscription: "subscription { buildQueued { buildId build { id job jobset { name project { name } } } } }",
                ordering: $ordering, concurrency: $concurrency) { secret }
}`;
const SECRET = `whsec_${Buffer.from('bench-webhook-secret-0123456789').toString('base64')}`;

/** An endpoint that answers 204 at once and counts what it got. */
class Endpoint {
  readonly ids = new Set<string>();
  bodies: string[] = [];
  duplicates = 0;
  lastUs = 0;
  private waiters: { n: number; resolve: () => void }[] = [];
  private constructor(readonly server: Server) {}

  static async start(): Promise<Endpoint> {
    const endpoint = new Endpoint(
      createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(204).end();
          const id = String(req.headers['webhook-id']);
          if (req.headers['hng-event'] === 'ping') return;
          if (endpoint.ids.has(id)) endpoint.duplicates++;
          else {
            endpoint.ids.add(id);
            endpoint.bodies.push(Buffer.concat(chunks).toString());
          }
          endpoint.lastUs = nowUs();
          endpoint.waiters = endpoint.waiters.filter((w) => (endpoint.ids.size >= w.n ? (w.resolve(), false) : true));
        });
      }),
    );
    await new Promise<void>((resolve) => endpoint.server.listen(0, '127.0.0.1', resolve));
    return endpoint;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  reset(): void {
    this.ids.clear();
    this.bodies = [];
    this.duplicates = 0;
  }

  received(n: number, timeoutMs: number): Promise<boolean> {
    if (this.ids.size >= n) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve(true)) });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The floor: the same bodies signed and POSTed from a loop, `concurrency` at once. */
async function floor(url: string, bodies: readonly string[], concurrency: number): Promise<number> {
  const hook = new Webhook(SECRET);
  let next = 0;
  const started = nowUs();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const i = next++;
        const at = new Date();
        const id = `msg_floor_${i}`;
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
            'webhook-signature': hook.sign(id, at, bodies[i]!),
            'hng-event': 'buildQueued',
          },
          body: bodies[i]!,
        });
        await response.arrayBuffer();
      }
    }),
  );
  return bodies.length / ((nowUs() - started) / 1e6);
}

async function runOnce(ctx: BenchContext, run: number, endpoint: Endpoint): Promise<void> {
  const { webhooks } = ctx.plan;
  const target = await ctx.startServer('gateway', `webhooks-gateway-r${run}`, { template: await ctx.fanoutTemplate() });
  const notifier = await Notifier.open(target.databaseUrl, 1);
  let firstId = 1;
  try {
    for (const { ordering, concurrency } of webhooks.cases) {
      const caseName = ordering === 'WEBHOOK' ? 'in order, 1 at a time' : `per build, ${concurrency} at once`;
      endpoint.reset();
      const name = `bench-${ordering.toLowerCase()}-${concurrency}`;
      await post(target.server.url, CREATE, { name, url: endpoint.url, ordering, concurrency });
      const count = webhooks.events;
      await ctx.quiet();
      const load = new PhaseLoad(availableParallelism(), ctx.postgres.postmasterPid);
      const cpu = new CpuWindow(target.server.pid);
      const t0 = nowUs();
      await notifier.bulk('build_queued', firstId, count, 100);
      const complete = await endpoint.received(count, webhooks.timeoutSeconds * 1000);
      const seconds = ((complete ? endpoint.lastUs : nowUs()) - t0) / 1e6;
      const cpuMs = cpu.elapsedMs();
      const phase = load.finish(cpuMs, 0);
      firstId += count;
      const notes = [];
      if (!complete) notes.push(`only ${endpoint.ids.size} of ${count} delivered within ${webhooks.timeoutSeconds} s`);
      if (endpoint.duplicates) notes.push(`${endpoint.duplicates} delivered twice`);
      const note = crowdedNote(phase, notes.length ? notes.join('; ') : undefined);
      const rate = endpoint.ids.size / seconds;
      ctx.results.record({
        scenario: 'webhooks',
        case: caseName,
        subject: 'gateway',
        run,
        figure: 'webhook deliveries per second',
        unit: '/s',
        value: rate,
        note,
        detail: {
          delivered: endpoint.ids.size,
          seconds,
          duplicates: endpoint.duplicates,
          gatewayCpuPerDeliveryMs: cpuMs / Math.max(1, endpoint.ids.size),
          ...phase,
        },
      });
      ctx.results.record({
        scenario: 'webhooks',
        case: caseName,
        subject: 'gateway',
        run,
        figure: 'gateway CPU per webhook delivery',
        unit: 'µs',
        value: (cpuMs * 1000) / Math.max(1, endpoint.ids.size),
      });
      // Only one webhook at a time, so the next case measures its own deliveries alone.
      await post(target.server.url, 'mutation ($name: String!) { removeWebhook(name: $name) }', { name });
      const bodies = [...endpoint.bodies];
      await ctx.quiet();
      const floorRate = await floor(endpoint.url, bodies, ordering === 'WEBHOOK' ? 1 : concurrency);
      ctx.results.record({
        scenario: 'webhooks',
        case: caseName,
        subject: 'floor',
        run,
        figure: 'webhook deliveries per second',
        unit: '/s',
        value: floorRate,
      });
      progress(
        `  webhooks r${run} ${caseName}: ${Math.round(rate)}/s (floor ${Math.round(floorRate)}/s)${notes.length ? `; ${notes.join('; ')}` : ''}`,
      );
    }
  } finally {
    await notifier.close();
    await target.stop();
  }
}

/** Webhook deliveries per second, beside signed POSTs from a loop. */
export const webhooks: Scenario = {
  name: 'webhooks',
  title: 'webhook deliveries per second to a fast local endpoint',
  async run(ctx) {
    const endpoint = await Endpoint.start();
    try {
      for (let run = 1; run <= ctx.plan.runs; run++) await runOnce(ctx, run, endpoint);
    } finally {
      await endpoint.close();
    }
  },
};
