/**
 * Fan-out over WebSocket: the fan-out subscription served by the gateway,
 * the raw floor and plain yoga, at each size of the plan, run after run.
 *
 * Contract: for each size, run and server (servers interleaved within a run,
 * so drift on a shared machine hits all three alike) a fresh bed is opened
 * (see bed.ts) and, at the sizes of `plan.fanout.sizes`, it records
 * connect-and-subscribe time, memory per idle subscriber, then the most
 * deliveries per second: a burst sized to take about `throughputSeconds` to
 * deliver (from a calibration burst at the first size, then from the rate the
 * same server reached at the previous size); its deliveries over the time from the first
 * NOTIFY to the last arrival are the rate, and the server's CPU (from /proc)
 * over deliveries is its CPU per delivered message; Postgres's CPU (the whole
 * cluster's, without the notifier's backends, less what it used per idle
 * second before) over events is its CPU per event; a burst whose clients
 * used most of a core is flagged (on two cores the clients can bind the
 * floor), and so is any phase during which other processes on the machine
 * took 0.3 cores or more (`foreignCores` in the details). Then the latency cases of that size, in increasing offered load:
 * open-loop schedules (see notifier.ts), latency recorded by the clients;
 * deliveries still missing `drainSeconds` after the last NOTIFY are reported
 * as the delivered fraction (the server falls behind), and the percentiles are
 * those of what was delivered; a phase delivered in full also gives CPU per
 * delivery and Postgres CPU per event at that rate. A server that did not go quiet after a phase
 * is restarted with a fresh fleet before the next one, so a backlog never
 * counts against a later phase. The 10-subscriber latency cases run in the
 * first size's beds, on the small fleet every bed starts with (see bed.ts),
 * after an unmeasured warm-up burst of 50 events.
 */
import type { LatencyCase } from '../plan.js';
import type { Subject } from '../report.js';
import type { ServerKind } from '../servers/launch.js';
import { progress } from '../support/progress.js';
import { settle } from '../support/settle.js';
import { type Bed, openBed, WARM_SUBSCRIBERS } from './bed.js';
import { IdRanges } from './ids.js';
import { deliverBurst, measureLatency, phaseNote } from './phases.js';
import type { BenchContext, Scenario } from './scenario.js';

/** The rate each server reached at the previous size of the same run: sizes the next burst without calibrating again. */
const lastRate = new Map<string, number>();

async function throughput(ctx: BenchContext, bed: Bed, ids: IdRanges, subject: Subject, size: number, run: number): Promise<void> {
  const { fanout } = ctx.plan;
  const deadlineMs = Math.max(15_000, fanout.throughputSeconds * 6_000);
  let calibratedRate = lastRate.get(`${subject}/${run}`);
  if (calibratedRate === undefined) {
    const calibration = await deliverBurst(
      ctx,
      bed,
      ids,
      'calibration',
      Math.max(2, Math.ceil(fanout.calibrationDeliveries / size)),
      deadlineMs,
    );
    calibratedRate = calibration.result.deliveries / (calibration.windowMs / 1000);
    await settle(bed.target.server.pid, { capMs: 10_000 });
  }
  const events = Math.min(20_000, Math.max(2, Math.ceil((calibratedRate * fanout.throughputSeconds) / size)));
  const main = await deliverBurst(ctx, bed, ids, 'throughput', events, deadlineMs);
  const delivered = main.result.deliveries;
  if (main.result.complete) lastRate.set(`${subject}/${run}`, delivered / (main.windowMs / 1000));
  const note = phaseNote(main.result, main.load, main.windowMs);
  const base = { scenario: 'fanout', case: `${size} subs`, subject, run };
  const detail = {
    events,
    deliveries: delivered,
    expected: main.result.expected,
    windowMs: main.windowMs,
    serverCpuMs: main.serverCpuMs,
    clientCpuMs: main.result.clientCpuMs,
    postgresCpuMs: main.postgresCpuMs,
    postgresIdleMsPerSecond: bed.postgresIdleMsPerSecond,
    postgresByBackend: main.postgresByBackend,
    ...main.load,
    calibratedRate,
  };
  ctx.results.record({
    ...base,
    figure: 'most deliveries per second',
    unit: '/s',
    value: delivered / (main.windowMs / 1000),
    note,
    detail,
  });
  ctx.results.record({
    ...base,
    figure: 'server CPU per delivered message',
    unit: 'µs',
    value: (main.serverCpuMs * 1000) / delivered,
    note,
    detail,
  });
  ctx.results.record({ ...base, figure: 'Postgres CPU per event', unit: 'µs', value: (main.postgresCpuMs * 1000) / events, note, detail });
  progress(
    `  ${subject} ${size} subs r${run}: ${Math.round(delivered / (main.windowMs / 1000))} deliveries/s, ${((main.serverCpuMs * 1000) / delivered).toFixed(1)} µs CPU/delivery (${events} events)`,
  );
}

async function measureSize(
  ctx: BenchContext,
  kind: ServerKind,
  size: number,
  run: number,
  ids: IdRanges,
  template: string,
  small: LatencyCase[],
): Promise<void> {
  const { fanout } = ctx.plan;
  const cases = fanout.latency.filter((c) => c.subscribers === size).sort((a, b) => a.rate - b.rate);
  const label = `fanout-${kind}-n${size}-r${run}`;
  const onSmallFleet = small.length
    ? async (smallBed: Bed) => {
        // Unmeasured warm-up, so the first latency phase does not pay for code paths compiling.
        await smallBed.notifier.burst('build_started', ids.take(50), 50);
        for (const c of small) {
          await settle(smallBed.target.server.pid, { capMs: 5_000 });
          await measureLatency(ctx, smallBed, ids, kind, c, run);
        }
      }
    : undefined;
  const open = (first: boolean) =>
    openBed(ctx, {
      kind,
      transport: 'ws',
      subscribers: size,
      label,
      template,
      ids,
      measureMemory: true,
      readPostgresIdle: true,
      onSmallFleet: first ? onSmallFleet : undefined,
    });
  progress(`fanout ${kind}, ${size} subscribers, run ${run}`);
  let bed = await open(true);
  try {
    const base = { scenario: 'fanout', case: `${size} subs`, subject: kind, run };
    ctx.results.record({
      ...base,
      figure: 'connect-and-subscribe time (WS)',
      unit: 'ms',
      value: bed.subscribedMs,
      detail: { socketsOpenMs: bed.connectMs },
    });
    const m = bed.memory!;
    const note = m.settled ? undefined : 'server not quiet when read';
    ctx.results.record({
      ...base,
      figure: 'memory per idle WS subscriber (RSS)',
      unit: 'KB',
      value: m.rssPerSubscriber / 1024,
      note,
      detail: { ...m },
    });
    ctx.results.record({
      ...base,
      figure: 'memory per idle WS subscriber (heap+external)',
      unit: 'KB',
      value: m.heapPerSubscriber / 1024,
      note,
    });
    progress(
      `  ${kind} ${size} subs r${run}: subscribed in ${Math.round(bed.subscribedMs)} ms, ${(m.rssPerSubscriber / 1024).toFixed(1)} KB RSS per idle subscriber`,
    );
    await throughput(ctx, bed, ids, kind, size, run);
    for (const c of cases) {
      if (!(await settle(bed.target.server.pid, { capMs: 3_000 }))) {
        progress(`  ${kind} still busy after the previous phase: restarting it with a fresh fleet`);
        await bed.close();
        bed = await open(false);
      }
      await measureLatency(ctx, bed, ids, kind, c, run);
    }
  } finally {
    await bed.close();
  }
}

/** The fan-out scenario; see the module contract. */
export const fanout: Scenario = {
  name: 'fanout',
  title: 'WebSocket fan-out: connect time, idle memory, deliveries per second, CPU, latency',
  async run(ctx) {
    const template = await ctx.fanoutTemplate();
    const ids = new IdRanges(ctx.plan.fanout.builds);
    const sizes = [...ctx.plan.fanout.sizes].sort((a, b) => a - b);
    const small = ctx.plan.fanout.latency.filter((c) => c.subscribers === WARM_SUBSCRIBERS).sort((a, b) => a.rate - b.rate);
    const unplaced = ctx.plan.fanout.latency.filter((c) => c.subscribers !== WARM_SUBSCRIBERS && !sizes.includes(c.subscribers));
    if (unplaced.length) throw new Error(`latency cases at sizes the plan does not open: ${unplaced.map((c) => c.subscribers).join(', ')}`);
    for (const [i, size] of sizes.entries()) {
      for (let run = 1; run <= ctx.plan.runs; run++) {
        for (const kind of ctx.plan.servers) {
          await measureSize(ctx, kind, size, run, ids, template, i === 0 ? small : []).catch((error: Error) =>
            ctx.warn(`fanout ${kind} ${size} subs run ${run} failed: ${error.message}`),
          );
        }
      }
    }
  },
};
