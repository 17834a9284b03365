/**
 * A stand-in for Hydra's evaluator and queue runner, so the gateway has live events at once.
 *
 * Contract: `startSimulator` seeds the database (idempotently; it must already hold the
 * Hydra schema, see `installHydraSchema`), then runs two independent loops on the given
 * pool: the evaluator (first tick at once) and the queue runner. Each loop waits for its
 * tick to end before scheduling the next, so ticks of one loop never overlap. A tick that
 * fails is logged and the loop carries on: the simulator never crashes the process.
 * Notifications follow Hydra's channels, payloads and transaction boundaries exactly
 * (see evaluator.ts and runner.ts). `stop()` clears the timers and awaits the ticks in
 * flight; the pool stays the caller's to end. Timers are unref'd: the simulator alone
 * does not keep the process alive.
 */
import type pg from 'pg';
import type { Random } from './dice.js';
import { evaluatorTick } from './evaluator.js';
import { runnerTick } from './runner.js';
import { seedHydra } from './seed.js';

/** Tuning of a simulator; every field is optional. */
export interface SimulatorOptions {
  /**
   * ms between evaluator ticks
   * @default 3_000 // 3 seconds
   */
  evalIntervalMs?: number;
  /**
   * ms between queue-runner ticks
   * @default 1_000 // 1 second
   */
  runnerIntervalMs?: number;
  /**
   * Where the simulator reports what it did and what failed.
   * @default one JSON line per message on stdout
   */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /**
   * Source of every random choice, in [0, 1); pass a seeded one for reproducible runs.
   * @default Math.random
   */
  random?: () => number;
}

/** A running simulator. */
export interface Simulator {
  /** Stops both loops and resolves once their ticks in flight have ended. */
  stop(): Promise<void>;
}

type Log = NonNullable<SimulatorOptions['log']>;

function defaultLog(msg: string, fields?: Record<string, unknown>): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), component: 'simulator', msg, ...fields }));
}

/** Runs `tick` every `intervalMs` after the previous tick ended, until stopped. */
function loop(name: string, intervalMs: number, firstDelayMs: number, tick: () => Promise<unknown>, log: Log) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const schedule = (delay: number) => {
    timer = setTimeout(run, delay);
    timer.unref();
  };
  const run = () => {
    timer = undefined;
    inFlight = tick()
      .then(
        () => undefined,
        (error: unknown) => {
          log(`simulated ${name} tick failed`, { error: error instanceof Error ? error.message : String(error) });
        },
      )
      .finally(() => {
        if (!stopped) schedule(intervalMs);
      });
  };
  schedule(firstDelayMs);
  return {
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}

/**
 * Seeds the database and starts the simulated evaluator and queue runner on `pool`.
 * @throws when seeding fails (e.g. the Hydra tables are missing); ticks never throw.
 */
export async function startSimulator(pool: pg.Pool, options: SimulatorOptions = {}): Promise<Simulator> {
  const log = options.log ?? defaultLog;
  const random: Random = options.random ?? Math.random;
  const evalIntervalMs = options.evalIntervalMs ?? 3_000;
  const runnerIntervalMs = options.runnerIntervalMs ?? 1_000;
  const ctx = { pool, random, log };

  const added = await seedHydra(pool);
  log('simulator started', { seededJobsets: added, evalIntervalMs, runnerIntervalMs });

  const evaluator = loop('evaluator', evalIntervalMs, 0, () => evaluatorTick(ctx), log);
  const runner = loop('queue runner', runnerIntervalMs, runnerIntervalMs, () => runnerTick(ctx), log);
  return {
    async stop(): Promise<void> {
      await Promise.all([evaluator.stop(), runner.stop()]);
      log('simulator stopped');
    },
  };
}
