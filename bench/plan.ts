/**
 * What one `npm run bench` measures, and how hard: the full plan (about the
 * issue's sizes) and the quick one (`--quick`: smaller sizes and shorter
 * phases, for a check that the harness works, not for figures).
 *
 * Contract: every number a scenario uses comes from here, so a later run
 * with other sizes changes one file. `runs` is how many times each figure is
 * measured (from a fresh server process each time); the machines are shared
 * and noisy, so in full mode both runs are printed, never averaged away.
 * Quick mode measures once: it checks that the harness works end to end,
 * and a second run of the same small phases would check nothing more.
 */
import type { ServerKind } from './servers/launch.js';

/** One latency phase of the fan-out: `subscribers` receiving `rate` events per second. */
export interface LatencyCase {
  subscribers: number;
  rate: number;
  /**
   * Seconds of open-loop sending, when not `latencySendSeconds`: a p99 needs a few hundred
   * events to be one (of 60, the 99th percentile is the largest, one stall of the machine).
   */
  sendSeconds?: number;
}

/** The plan of one bench run. */
export interface Plan {
  mode: 'full' | 'quick';
  runs: number;
  /** The servers compared, in the order each run starts them. */
  servers: ServerKind[];
  /** Only these scenarios (by name), or all. */
  only: string[] | null;
  /**
   * Before each measured phase, wait at most `perWaitSeconds` for other processes to leave the
   * machine quiet; `budgetSeconds` in all. On a machine kept busy by others (a test suite of
   * many minutes) the waits mostly run out, so the budget is what a busy run pays in wall time:
   * a minute in full mode (it was five), after which phases run whatever the load and say so.
   */
  quiet: { perWaitSeconds: number; budgetSeconds: number };
  fanout: {
    /** Queued builds in the fan-out database; events name them by id. */
    builds: number;
    /** Sizes measured for connect time, idle memory, throughput and CPU. */
    sizes: number[];
    latency: LatencyCase[];
    /** Seconds of open-loop sending per latency phase (unless the case says otherwise). */
    latencySendSeconds: number;
    /** Seconds to wait for the last deliveries after sending ended. */
    drainSeconds: number;
    /** Deliveries of the calibration burst that sizes the throughput burst. */
    calibrationDeliveries: number;
    /** The throughput burst is sized to take about this long at the calibrated rate. */
    throughputSeconds: number;
    /** At most this many sockets per client process. */
    socketsPerProcess: number;
    /** A server holds at most this many sockets; beyond, several subscriptions share one. */
    socketsPerServer: number;
    /** Deadline for connecting and subscribing a fleet, s. */
    connectTimeoutSeconds: number;
  };
  sse: { sizes: number[] };
  history: {
    /** Builds in the history database (ids 1..builds). */
    builds: number;
    /** Notifications of the journal burst, sent in transactions of `perTransaction`. */
    burst: number;
    perTransaction: number;
    burstTimeoutSeconds: number;
    /** Seconds after the burst is journaled before RSS is read again. */
    settleSeconds: number;
    eventsPages: number;
    /**
     * Unmeasured `events` pages before the page figures, by count (walked `eventsPages` at a
     * time, from the start of the journal, as the measured walk is): five pages left most of the
     * measured walk to V8's lower tiers, at 1.3-1.8 times the warmed CPU per page.
     */
    eventsWarmupPages: number;
    pending: number;
    pendingPages: number;
    concurrentClients: number;
    concurrentPagesEach: number;
    ackSeconds: number;
    /**
     * Unmeasured requests before the acknowledgement figures, for this long: a fresh gateway runs
     * its first few thousand requests in V8's interpreter and baseline tiers, at two to three
     * times the CPU of a compiled one, and its compiler threads count as its CPU.
     */
    warmupSeconds: number;
    /**
     * Unmeasured pages before the page figures, by count: V8 tiers code up by how often it runs,
     * not by how long, so a warm-up of seconds left a slow day's gateway colder (fewer pages in
     * the same time) and its first run colder than its second. Walked `pendingPages` at a time.
     */
    warmupPages: number;
    ackClients: number;
    ackBatch: number;
    /** Pending builds made for the single acknowledgements of one run. */
    ackPoolSingle: number;
    /** Pending builds made for each batched case (1 client, `ackClients`) of one run. */
    ackPoolBatched: number;
  };
  webhooks: {
    /**
     * build_queued events delivered per case and run: 5,000 in full mode (it was 10,000), five
     * seconds or more at the 850-1,000 per second measured here, thousands of deliveries to the
     * rate and hundreds of CPU ticks to the CPU per delivery.
     */
    events: number;
    /** How long a case may take to deliver them. */
    timeoutSeconds: number;
    cases: { ordering: 'WEBHOOK' | 'BUILD'; concurrency: number }[];
  };
}

/** The plan for `full` or `quick` mode. */
export function makePlan(mode: 'full' | 'quick', only: string[] | null, quietWait = true): Plan {
  const quick = mode === 'quick';
  return {
    mode,
    runs: quick ? 1 : 2,
    servers: ['floor', 'gateway', 'yoga'],
    only,
    quiet: quietWait ? { perWaitSeconds: quick ? 5 : 10, budgetSeconds: quick ? 15 : 60 } : { perWaitSeconds: 0, budgetSeconds: 0 },
    fanout: {
      builds: 100_000,
      sizes: quick ? [1_000] : [1_000, 5_000, 10_000],
      latency: quick
        ? [
            { subscribers: 10, rate: 100 },
            { subscribers: 1_000, rate: 20 },
          ]
        : [
            // 200 events: 3 s at 20 a second made 60, whose p99 was their largest.
            { subscribers: 10, rate: 20, sendSeconds: 10 },
            { subscribers: 10, rate: 100 },
            { subscribers: 1_000, rate: 20 },
            { subscribers: 10_000, rate: 100 },
          ],
      latencySendSeconds: quick ? 1.5 : 3,
      drainSeconds: quick ? 2 : 4,
      calibrationDeliveries: 10_000,
      throughputSeconds: quick ? 1 : 3,
      socketsPerProcess: 5_000,
      socketsPerServer: 15_000,
      connectTimeoutSeconds: 120,
    },
    sse: { sizes: quick ? [1_000] : [1_000, 5_000] },
    history: {
      builds: quick ? 200_000 : 1_000_000,
      burst: quick ? 100_000 : 1_000_000,
      perTransaction: 1_000,
      burstTimeoutSeconds: quick ? 60 : 180,
      settleSeconds: quick ? 2 : 5,
      eventsPages: quick ? 50 : 200,
      eventsWarmupPages: quick ? 100 : 600,
      pending: 10_000,
      pendingPages: quick ? 50 : 200,
      concurrentClients: 16,
      concurrentPagesEach: quick ? 10 : 25,
      ackSeconds: quick ? 2 : 4,
      warmupSeconds: quick ? 1 : 3,
      warmupPages: quick ? 1_000 : 6_000,
      ackClients: 16,
      ackBatch: 1_000,
      ackPoolSingle: quick ? 10_000 : 20_000,
      ackPoolBatched: quick ? 40_000 : 200_000,
    },
    webhooks: {
      events: quick ? 2_000 : 5_000,
      timeoutSeconds: 180,
      cases: [
        { ordering: 'WEBHOOK', concurrency: 1 },
        { ordering: 'BUILD', concurrency: 16 },
      ],
    },
  };
}
