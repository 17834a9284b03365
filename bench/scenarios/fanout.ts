/**
 * Fan-out over WebSocket: the fan-out subscription served by the gateway,
 * the raw floor and plain yoga, at each size of the plan, run after run.
 *
 * Contract: for each size, run and server (servers interleaved within a run,
 * so drift on a shared machine hits all three alike) a fresh bed is opened
 * (see bed.ts) and, at the sizes of `plan.fanout.sizes`, it records
 * connect-and-subscribe time, memory per idle subscriber, then the most
 * deliveries per second: a calibration burst sizes a burst that takes about
 * `throughputSeconds` to deliver; its deliveries over the time from the first
 * NOTIFY to the last arrival are the rate, and the server's CPU (from /proc)
 * over deliveries is its CPU per delivered message; Postgres's CPU (the whole
 * cluster's, without the notifier's backends) over events is its CPU per
 * event. Then the latency cases of that size, in increasing offered load:
 * open-loop schedules (see notifier.ts), latency recorded by the clients;
 * deliveries still missing `drainSeconds` after the last NOTIFY are reported
 * as the delivered fraction (the server falls behind), and the percentiles are
 * those of what was delivered. A server that did not go quiet after a phase
 * is restarted with a fresh fleet before the next one, so a backlog never
 * counts against a later phase. Sizes measured for latency only get an
 * unmeasured warm-up burst of 50 events first (the others are warm from the
 * throughput bursts).
 */
import type { PhaseResult } from '../clients/fleet.js';
import type { LatencyCase } from '../plan.js';
import type { Subject } from '../report.js';
import type { ServerKind } from '../servers/launch.js';
import { nowUs } from '../support/clock.js';
import { progress } from '../support/progress.js';
import { ClusterCpuWindow, CpuWindow } from '../support/proc.js';
import { settle } from '../support/settle.js';
import { type Bed, openBed } from './bed.js';
import { IdRanges } from './ids.js';
import type { BenchContext, Scenario } from './scenario.js';

interface Burst {
  result: PhaseResult;
  events: number;
  windowMs: number;
  serverCpuMs: number;
  postgresCpuMs: number;
}

async function burst(ctx: BenchContext, bed: Bed, ids: IdRanges, name: string, events: number, deadlineMs: number): Promise<Burst> {
  const firstId = ids.take(events);
  const cpu = new CpuWindow(bed.target.server.pid);
  const pg = new ClusterCpuWindow(ctx.postgres.postmasterPid, () => bed.notifier.pids);
  let sentUs = 0;
  const result = await bed.fleet.measure(
    { name, firstId, count: events },
    async () => {
      sentUs = nowUs();
      await bed.notifier.burst('build_started', firstId, events);
    },
    deadlineMs,
  );
  const serverCpuMs = cpu.elapsedMs();
  const postgresCpuMs = pg.elapsedMs();
  const windowMs = result.lastUs === null ? NaN : (result.lastUs - sentUs) / 1000;
  return { result, events, windowMs, serverCpuMs, postgresCpuMs };
}

function missing(result: PhaseResult): string | undefined {
  if (result.complete && result.invalid === 0 && result.errors === 0 && result.ended === 0) return undefined;
  const parts = [];
  if (!result.complete) parts.push(`${((100 * result.deliveries) / result.expected).toFixed(1)}% delivered before the deadline`);
  if (result.invalid) parts.push(`${result.invalid} sampled frames malformed`);
  if (result.errors) parts.push(`${result.errors} errors`);
  if (result.ended) parts.push(`${result.ended} subscriptions ended (${result.firstErrors.join('; ')})`);
  return parts.join(', ');
}

async function throughput(ctx: BenchContext, bed: Bed, ids: IdRanges, subject: Subject, size: number, run: number): Promise<void> {
  const { fanout } = ctx.plan;
  const deadlineMs = Math.max(15_000, fanout.throughputSeconds * 6_000);
  const calibration = await burst(ctx, bed, ids, 'calibration', Math.max(2, Math.ceil(fanout.calibrationDeliveries / size)), deadlineMs);
  const calibratedRate = calibration.result.deliveries / (calibration.windowMs / 1000);
  await settle(bed.target.server.pid, { capMs: 10_000 });
  const events = Math.min(20_000, Math.max(2, Math.ceil((calibratedRate * fanout.throughputSeconds) / size)));
  const main = await burst(ctx, bed, ids, 'throughput', events, deadlineMs);
  const delivered = main.result.deliveries;
  const note = missing(main.result);
  const base = { scenario: 'fanout', case: `${size} subs`, subject, run };
  const detail = {
    events,
    deliveries: delivered,
    expected: main.result.expected,
    windowMs: main.windowMs,
    serverCpuMs: main.serverCpuMs,
    clientCpuMs: main.result.clientCpuMs,
    postgresCpuMs: main.postgresCpuMs,
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

async function latency(ctx: BenchContext, bed: Bed, ids: IdRanges, subject: Subject, c: LatencyCase, run: number): Promise<void> {
  const { fanout } = ctx.plan;
  const count = Math.max(1, Math.round(c.rate * fanout.latencySendSeconds));
  const periodUs = 1e6 / c.rate;
  const firstId = ids.take(count);
  const t0Us = nowUs() + 200_000;
  const cpu = new CpuWindow(bed.target.server.pid);
  const pg = new ClusterCpuWindow(ctx.postgres.postmasterPid, () => bed.notifier.pids);
  let notifierLag: unknown = null;
  const result = await bed.fleet.measure(
    { name: `latency-${c.subscribers}-${c.rate}`, firstId, count, t0Us, periodUs },
    async () => {
      notifierLag = await bed.notifier.schedule({ channel: 'build_started', firstId, count, t0Us, periodUs });
    },
    fanout.drainSeconds * 1000,
  );
  const serverCpuMs = cpu.elapsedMs();
  const postgresCpuMs = pg.elapsedMs();
  const note = missing(result);
  const base = { scenario: 'fanout', case: `${c.subscribers} subs, ${c.rate} ev/s`, subject, run, unit: 'ms', note };
  const detail = {
    events: count,
    deliveries: result.deliveries,
    expected: result.expected,
    deliveredFraction: result.deliveries / result.expected,
    serverCpuMs,
    serverCpuPerDeliveryUs: (serverCpuMs * 1000) / result.deliveries,
    postgresCpuPerEventUs: (postgresCpuMs * 1000) / count,
    clientCpuMs: result.clientCpuMs,
    notifierLagMs: notifierLag,
    latency: result.latency,
  };
  const l = result.latency;
  ctx.results.record({ ...base, figure: 'NOTIFY-to-client latency p50', value: l?.count ? l.p50 : null, detail });
  ctx.results.record({ ...base, figure: 'NOTIFY-to-client latency p99', value: l?.count ? l.p99 : null, detail });
  ctx.results.record({ ...base, figure: 'NOTIFY-to-client latency max', value: l?.count ? l.max : null, detail });
  progress(
    `  ${subject} ${c.subscribers} subs ${c.rate} ev/s r${run}: p50 ${l?.p50} ms, p99 ${l?.p99} ms, max ${l?.max} ms, ${((100 * result.deliveries) / result.expected).toFixed(1)}% delivered`,
  );
}

async function measureSize(ctx: BenchContext, kind: ServerKind, size: number, run: number, ids: IdRanges, template: string): Promise<void> {
  const { fanout } = ctx.plan;
  const full = fanout.sizes.includes(size);
  const cases = fanout.latency.filter((c) => c.subscribers === size).sort((a, b) => a.rate - b.rate);
  const label = `fanout-${kind}-n${size}-r${run}`;
  const open = () => openBed(ctx, { kind, transport: 'ws', subscribers: size, label, template, ids, measureMemory: full });
  progress(`fanout ${kind}, ${size} subscribers, run ${run}`);
  let bed = await open();
  try {
    const base = { scenario: 'fanout', case: `${size} subs`, subject: kind, run };
    if (full) {
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
    } else {
      // Unmeasured warm-up, so the first latency phase does not pay for code paths compiling.
      await bed.notifier.burst('build_started', ids.take(50), 50);
    }
    for (const c of cases) {
      if (!(await settle(bed.target.server.pid, { capMs: 5_000 }))) {
        progress(`  ${kind} still busy after the previous phase: restarting it with a fresh fleet`);
        await bed.close();
        bed = await open();
      }
      await latency(ctx, bed, ids, kind, c, run);
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
    const sizes = [...new Set([...ctx.plan.fanout.latency.map((c) => c.subscribers), ...ctx.plan.fanout.sizes])].sort((a, b) => a - b);
    for (const size of sizes) {
      for (let run = 1; run <= ctx.plan.runs; run++) {
        for (const kind of ctx.plan.servers) {
          await measureSize(ctx, kind, size, run, ids, template).catch((error: Error) =>
            ctx.warn(`fanout ${kind} ${size} subs run ${run} failed: ${error.message}`),
          );
        }
      }
    }
  },
};
