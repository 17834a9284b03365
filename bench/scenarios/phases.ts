/**
 * The measured phases of the fan-out, on an open bed (see bed.ts): a burst
 * delivered as fast as the server can, and an open-loop latency phase.
 *
 * Contract: every phase uses fresh build ids, reads the server's CPU from
 * /proc and Postgres's from its processes (without the notifier's backends,
 * less Postgres's idle rate over the phase, with a per-backend breakdown),
 * and the machine's load by others (`PhaseLoad`). A phase never waits past
 * its deadline: what has not arrived by then is reported as missing, not
 * waited for. Latency phases record their figures themselves; bursts return
 * theirs to the caller.
 */
import { availableParallelism } from 'node:os';
import type { PhaseResult } from '../clients/fleet.js';
import type { LatencyCase } from '../plan.js';
import type { Subject } from '../report.js';
import { nowUs } from '../support/clock.js';
import { FOREIGN_CORES, PhaseLoad } from '../support/load.js';
import { progress } from '../support/progress.js';
import { ClusterCpuWindow, CpuWindow } from '../support/proc.js';
import { timeStep } from '../support/steps.js';
import type { Bed } from './bed.js';
import type { IdRanges } from './ids.js';
import type { BenchContext } from './scenario.js';

/**
 * Postgres's CPU in a window by backend (`application_name`, or the backend
 * type for Postgres's own processes), ms: shows where the per-event figure goes.
 */
async function byBackend(bed: Bed, window: ClusterCpuWindow): Promise<Record<string, number>> {
  const used = window.byPid();
  const { rows } = await bed.notifier.query<{ pid: number; name: string }>(
    `/* benchBackends */ SELECT pid, coalesce(nullif(application_name, ''), backend_type) AS name FROM pg_stat_activity WHERE pid = ANY($1::int[])`,
    [[...used.keys()]],
  );
  const names = new Map(rows.map((r) => [r.pid, r.name]));
  const out: Record<string, number> = {};
  for (const [pid, ms] of used) {
    const name = names.get(pid) ?? 'exited or other';
    out[name] = Math.round(((out[name] ?? 0) + ms) * 100) / 100;
  }
  return out;
}

/** What one burst cost and delivered. */
export interface Burst {
  postgresByBackend: Record<string, number>;
  load: { machineCores: number; foreignCores: number };
  result: PhaseResult;
  events: number;
  windowMs: number;
  serverCpuMs: number;
  postgresCpuMs: number;
}

/** Sends `events` build_started as fast as Postgres takes them and measures their delivery to the bed's fleet. */
export async function deliverBurst(
  ctx: BenchContext,
  bed: Bed,
  ids: IdRanges,
  name: string,
  events: number,
  deadlineMs: number,
): Promise<Burst> {
  const firstId = ids.take(events);
  await ctx.quiet();
  const load = new PhaseLoad(availableParallelism(), ctx.postgres.postmasterPid);
  const cpu = new CpuWindow(bed.target.server.pid);
  const pg = new ClusterCpuWindow(ctx.postgres.postmasterPid, () => bed.notifier.pids);
  let sentUs = 0;
  const result = await timeStep(`measure: ${name} burst`, () =>
    bed.fleet.measure(
      { name, firstId, count: events },
      async () => {
        sentUs = nowUs();
        await bed.notifier.burst('build_started', firstId, events);
      },
      deadlineMs,
    ),
  );
  const serverCpuMs = cpu.elapsedMs();
  const postgresCpuMs = Math.max(0, pg.elapsedMs() - bed.postgresIdleMsPerSecond * ((nowUs() - sentUs) / 1e6));
  const postgresByBackend = await byBackend(bed, pg);
  const windowMs = result.lastUs === null ? NaN : (result.lastUs - sentUs) / 1000;
  return { result, events, windowMs, serverCpuMs, postgresCpuMs, postgresByBackend, load: load.finish(serverCpuMs, result.clientCpuMs) };
}

/** What makes a phase's figures doubtful (missing deliveries, errors, saturated clients, a crowded machine), or undefined. */
export function phaseNote(result: PhaseResult, load: { foreignCores: number }, windowMs?: number): string | undefined {
  const clientCores = windowMs ? result.clientCpuMs / windowMs : 0;
  const saturated = clientCores >= 0.8;
  const crowded = load.foreignCores >= FOREIGN_CORES;
  if (result.complete && result.invalid === 0 && result.errors === 0 && result.ended === 0 && !saturated && !crowded) return undefined;
  const parts = [];
  if (crowded) parts.push(`other processes used ${load.foreignCores.toFixed(2)} cores meanwhile`);
  if (saturated) parts.push(`the clients used ${clientCores.toFixed(2)} cores: the rate may be bound by them`);
  if (!result.complete) parts.push(`${((100 * result.deliveries) / result.expected).toFixed(1)}% delivered before the deadline`);
  if (result.invalid) parts.push(`${result.invalid} sampled frames malformed`);
  if (result.errors) parts.push(`${result.errors} errors`);
  if (result.ended) parts.push(`${result.ended} subscriptions ended (${result.firstErrors.join('; ')})`);
  return parts.join(', ');
}

/**
 * One open-loop latency phase: `c.rate` events per second for `c.sendSeconds` (or `latencySendSeconds`)
 * to the bed's fleet; records latency percentiles and, when every delivery
 * arrived, CPU per delivery and Postgres CPU per event at that rate.
 */
export async function measureLatency(
  ctx: BenchContext,
  bed: Bed,
  ids: IdRanges,
  subject: Subject,
  c: LatencyCase,
  run: number,
): Promise<void> {
  const { fanout } = ctx.plan;
  const count = Math.max(1, Math.round(c.rate * (c.sendSeconds ?? fanout.latencySendSeconds)));
  const periodUs = 1e6 / c.rate;
  const firstId = ids.take(count);
  await ctx.quiet();
  const t0Us = nowUs() + 200_000;
  const load = new PhaseLoad(availableParallelism(), ctx.postgres.postmasterPid);
  const cpu = new CpuWindow(bed.target.server.pid);
  const pg = new ClusterCpuWindow(ctx.postgres.postmasterPid, () => bed.notifier.pids);
  const openedUs = nowUs();
  let notifierLag: unknown = null;
  const result = await timeStep('measure: latency phase', () =>
    bed.fleet.measure(
      { name: `latency-${c.subscribers}-${c.rate}`, firstId, count, t0Us, periodUs },
      async () => {
        notifierLag = await bed.notifier.schedule({ channel: 'build_started', firstId, count, t0Us, periodUs });
      },
      fanout.drainSeconds * 1000,
    ),
  );
  const serverCpuMs = cpu.elapsedMs();
  const postgresCpuMs = Math.max(0, pg.elapsedMs() - bed.postgresIdleMsPerSecond * ((nowUs() - openedUs) / 1e6));
  const postgresByBackend = await byBackend(bed, pg);
  const phaseLoad = load.finish(serverCpuMs, result.clientCpuMs);
  const note = phaseNote(result, phaseLoad);
  const base = { scenario: 'fanout', case: `${c.subscribers} subs, ${c.rate} ev/s`, subject, run, unit: 'ms', note };
  const detail = {
    events: count,
    deliveries: result.deliveries,
    expected: result.expected,
    deliveredFraction: result.deliveries / result.expected,
    serverCpuMs,
    serverCpuPerDeliveryUs: (serverCpuMs * 1000) / result.deliveries,
    postgresCpuPerEventUs: (postgresCpuMs * 1000) / count,
    postgresIdleMsPerSecond: bed.postgresIdleMsPerSecond,
    postgresByBackend,
    ...phaseLoad,
    clientCpuMs: result.clientCpuMs,
    notifierLagMs: notifierLag,
    latency: result.latency,
  };
  const l = result.latency;
  ctx.results.record({ ...base, figure: 'NOTIFY-to-client latency p50', value: l?.count ? l.p50 : null, detail });
  ctx.results.record({ ...base, figure: 'NOTIFY-to-client latency p99', value: l?.count ? l.p99 : null, detail });
  ctx.results.record({ ...base, figure: 'NOTIFY-to-client latency max', value: l?.count ? l.max : null, detail });
  if (result.complete) {
    ctx.results.record({ ...base, figure: 'server CPU per delivered message', unit: 'µs', value: detail.serverCpuPerDeliveryUs });
    ctx.results.record({ ...base, figure: 'Postgres CPU per event', unit: 'µs', value: detail.postgresCpuPerEventUs });
  }
  progress(
    `  ${subject} ${c.subscribers} subs ${c.rate} ev/s r${run}: p50 ${l?.p50} ms, p99 ${l?.p99} ms, max ${l?.max} ms, ${((100 * result.deliveries) / result.expected).toFixed(1)}% delivered`,
  );
}
