/**
 * A test bed for the subscription scenarios: one server under test on a fresh
 * database, the notifier on that database, and a fleet of subscribers that
 * are all known to be live.
 *
 * Contract: `openBed` starts the server, then (with `measureMemory`) a
 * warm-up fleet of 10 subscribers, so that one-time costs of the first
 * subscriptions (schema caches, code paths compiled) are in the baseline and
 * not divided among the measured subscribers; it collects garbage and reads
 * the server's RSS, connects the measured fleet, waits until every
 * subscription received a probe event and the server went quiet, collects
 * garbage again and reads RSS; the difference divided by the subscribers is
 * the memory per idle subscriber. The warm-up fleet is then closed, so the
 * phases that follow deliver to the measured fleet only. `close` takes
 * everything down, killing a server that does not stop by itself.
 */
import { Fleet } from '../clients/fleet.js';
import { FANOUT_QUERY } from '../servers/frames.js';
import type { ServerKind } from '../servers/launch.js';
import { sleep } from '../support/clock.js';
import { Notifier } from '../support/notifier.js';
import { settle } from '../support/settle.js';
import type { IdRanges } from './ids.js';
import type { BenchContext, ServerOnDatabase } from './scenario.js';

/** Memory of idle subscribers, as measured by `openBed`. */
export interface IdleMemory {
  baselineRss: number;
  rss: number;
  /** (RSS after − RSS before) / subscribers, bytes. */
  rssPerSubscriber: number;
  /** The same for V8's heapUsed + external (what is retained, without the allocator's slack). */
  heapPerSubscriber: number;
  /** Whether the server went quiet before the reading. */
  settled: boolean;
}

/** A server, its notifier and a live fleet. */
export interface Bed {
  target: ServerOnDatabase;
  notifier: Notifier;
  fleet: Fleet;
  /** ms until every socket was open and every subscribe sent. */
  connectMs: number;
  /** ms until every subscription had received its first event. */
  subscribedMs: number;
  memory: IdleMemory | null;
  close(): Promise<void>;
}

/** What `openBed` opens. */
export interface BedOptions {
  kind: ServerKind;
  transport: 'ws' | 'sse';
  subscribers: number;
  label: string;
  template: string;
  ids: IdRanges;
  measureMemory: boolean;
}

/** Opens a bed; see the module contract. */
export async function openBed(ctx: BenchContext, options: BedOptions): Promise<Bed> {
  const { plan } = ctx;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse())
      await closer().catch((error: Error) => ctx.warn(`${options.label}: closing: ${error.message}`));
  };
  try {
    const target = await ctx.startServer(options.kind, options.label, { template: options.template });
    closers.push(() => target.stop());
    const notifier = await Notifier.open(target.databaseUrl);
    closers.push(() => notifier.close());
    const probe = async () => notifier.burst('build_started', options.ids.take(1), 1);
    const subsPerSocket = options.transport === 'sse' ? 1 : Math.max(1, Math.ceil(options.subscribers / plan.fanout.socketsPerServer));
    const fleetPlan = (name: string, subscribers: number) => ({
      transport: options.transport,
      url: target.server.url,
      query: FANOUT_QUERY,
      subscribers,
      subsPerSocket,
      socketsPerProcess: plan.fanout.socketsPerProcess,
      logDir: ctx.logDir,
      name,
    });
    const timeoutMs = plan.fanout.connectTimeoutSeconds * 1000;

    let baseline: Awaited<ReturnType<typeof target.server.gc>> | null = null;
    let warm: Fleet | null = null;
    if (options.measureMemory) {
      warm = await Fleet.start(fleetPlan(`${options.label}-warm`, 10), timeoutMs);
      const warmFleet = warm;
      closers.push(() => warmFleet.stop());
      await warm.awaitReady(probe, timeoutMs);
      await settle(target.server.pid);
      baseline = await target.server.gc();
    }

    const fleet = await Fleet.start(fleetPlan(`${options.label}-${options.transport}`, options.subscribers), timeoutMs);
    closers.push(() => fleet.stop());
    const subscribedMs = await fleet.awaitReady(probe, timeoutMs);

    let memory: IdleMemory | null = null;
    if (baseline && warm) {
      const settled = await settle(target.server.pid, { capMs: 10_000 });
      await sleep(200);
      const after = await target.server.gc();
      const n = options.subscribers;
      memory = {
        baselineRss: baseline.rss,
        rss: after.rss,
        rssPerSubscriber: (after.rss - baseline.rss) / n,
        heapPerSubscriber: (after.heapUsed + after.external - (baseline.heapUsed + baseline.external)) / n,
        settled,
      };
      await warm.stop();
    }
    return { target, notifier, fleet, connectMs: fleet.connectMs, subscribedMs, memory, close };
  } catch (error) {
    await close();
    throw error;
  }
}
