/**
 * A test bed for the subscription scenarios: one server under test on a fresh
 * database, the notifier on that database, and a fleet of subscribers that
 * are all known to be live.
 *
 * Contract: `openBed` starts the server and, at the same time, the client
 * processes of both fleets (unmeasured, so overlapping them costs no
 * figure); it connects a small fleet of `WARM_SUBSCRIBERS` first. With
 * `readPostgresIdle`, Postgres's CPU is read over one idle second
 * (`postgresIdleMsPerSecond`, which phases subtract: what Postgres does
 * without any event). `onSmallFleet`, when given, then runs its phases on
 * that small fleet (the 10-subscriber latency cases), which also warms the
 * server up. With `measureMemory`, one-time costs of the first subscriptions
 * (schema caches, code paths compiled) are thus in the baseline and not
 * divided among the measured subscribers: garbage is collected and the
 * server's RSS read, the measured fleet connected, every subscription proven
 * live by a probe event, the server left to go quiet, garbage collected and
 * RSS read again; the difference divided by the subscribers is the memory per
 * idle subscriber. The small fleet is then closed, so the phases that follow
 * deliver to the measured fleet only. `close` takes everything down, killing
 * a server that does not stop by itself.
 */
import { type Fleet, FleetProcesses, type FleetPlan } from '../clients/fleet.js';
import { FANOUT_QUERY } from '../servers/frames.js';
import type { ServerKind } from '../servers/launch.js';
import { sleep } from '../support/clock.js';
import { Notifier } from '../support/notifier.js';
import { ClusterCpuWindow } from '../support/proc.js';
import { settle } from '../support/settle.js';
import { timeStep } from '../support/steps.js';
import type { IdRanges } from './ids.js';
import type { BenchContext, ServerOnDatabase } from './scenario.js';

/** Subscribers of the small fleet every bed starts with. */
export const WARM_SUBSCRIBERS = 10;

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
  /** Postgres's CPU (without the notifier's backends) per second while everything was idle, ms/s (NaN unless `readPostgresIdle`). */
  postgresIdleMsPerSecond: number;
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
  /**
   * Read Postgres's CPU over one idle second (`postgresIdleMsPerSecond`, which phases
   * subtract); without it (a bed with no measured phase) that figure is NaN.
   */
  readPostgresIdle: boolean;
  /** Phases to run on the small fleet before the measured one connects. */
  onSmallFleet?: (small: Bed) => Promise<void>;
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
    const subsPerSocket = options.transport === 'sse' ? 1 : Math.max(1, Math.ceil(options.subscribers / plan.fanout.socketsPerServer));
    const fleetPlan = (name: string, subscribers: number): FleetPlan => ({
      transport: options.transport,
      query: FANOUT_QUERY,
      subscribers,
      subsPerSocket,
      socketsPerProcess: plan.fanout.socketsPerProcess,
      logDir: ctx.logDir,
      name,
    });
    const timeoutMs = plan.fanout.connectTimeoutSeconds * 1000;
    // The client processes start while the server does: neither is measured, and both take seconds.
    const spawn = (name: string, subscribers: number) => {
      const spawned = FleetProcesses.spawn(fleetPlan(name, subscribers));
      closers.push(() => spawned.then((p) => p.stop()).catch(() => {}));
      return spawned;
    };
    const smallProcesses = spawn(`${options.label}-small`, WARM_SUBSCRIBERS);
    const measuredProcesses =
      options.subscribers > WARM_SUBSCRIBERS ? spawn(`${options.label}-${options.transport}`, options.subscribers) : null;
    const [target] = await timeStep('start a server and its fleets', () =>
      Promise.all([ctx.startServer(options.kind, options.label, { template: options.template }), smallProcesses, measuredProcesses]),
    );
    closers.push(() => target.stop());
    const notifier = await Notifier.open(target.databaseUrl);
    closers.push(() => notifier.close());
    const probe = async () => notifier.burst('build_started', options.ids.take(1), 1);

    const small = await timeStep('connect a fleet', async () => (await smallProcesses).connect(target.server.url, timeoutMs));
    closers.push(() => timeStep('stop a fleet', () => small.stop()));
    const smallReadyMs = await timeStep('probe a fleet until live', () => small.awaitReady(probe, timeoutMs));
    await settle(target.server.pid, { capMs: 5_000 });
    let postgresIdleMsPerSecond = NaN;
    if (options.readPostgresIdle) {
      const idle = new ClusterCpuWindow(ctx.postgres.postmasterPid, () => notifier.pids);
      const idleStarted = performance.now();
      await timeStep("read Postgres's idle rate", () => sleep(1_000));
      postgresIdleMsPerSecond = idle.elapsedMs() / ((performance.now() - idleStarted) / 1000);
    }
    const smallBed: Bed = {
      target,
      notifier,
      fleet: small,
      connectMs: small.connectMs,
      subscribedMs: smallReadyMs,
      memory: null,
      postgresIdleMsPerSecond,
      close,
    };
    if (options.onSmallFleet) await timeStep('phases on the small fleet', () => options.onSmallFleet!(smallBed));
    if (options.subscribers <= WARM_SUBSCRIBERS) return smallBed;

    await settle(target.server.pid, { capMs: 10_000 });
    const baseline = options.measureMemory ? await timeStep('collect garbage', () => target.server.gc()) : null;
    const fleet = await timeStep('connect a fleet', async () => (await measuredProcesses!).connect(target.server.url, timeoutMs));
    closers.push(() => timeStep('stop a fleet', () => fleet.stop()));
    const subscribedMs = await timeStep('probe a fleet until live', () => fleet.awaitReady(probe, timeoutMs));

    let memory: IdleMemory | null = null;
    if (baseline) {
      const settled = await settle(target.server.pid, { capMs: 10_000 });
      await sleep(200);
      const after = await timeStep('collect garbage', () => target.server.gc());
      const n = options.subscribers;
      memory = {
        baselineRss: baseline.rss,
        rss: after.rss,
        rssPerSubscriber: (after.rss - baseline.rss) / n,
        heapPerSubscriber: (after.heapUsed + after.external - (baseline.heapUsed + baseline.external)) / n,
        settled,
      };
    }
    await timeStep('stop a fleet', () => small.stop());
    return { target, notifier, fleet, connectMs: fleet.connectMs, subscribedMs, memory, postgresIdleMsPerSecond, close };
  } catch (error) {
    await close();
    throw error;
  }
}
