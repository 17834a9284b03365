/**
 * Acknowledgements (gateway alone, owner mode, no consumer: Hydra's column
 * cleared by compare-and-set): single `acknowledgeBuildFinished` from
 * `ackClients` concurrent clients, and batched `acknowledgeBuildsFinished`
 * with `ackBatch` items a call, from one client and from `ackClients`.
 *
 * Contract: each run makes its own pools of pending builds (ids after the
 * backlog `pending` reads, disjoint run by run) before starting a fresh
 * gateway, so every acknowledgement is of a distinct pending occurrence and
 * must answer ACKNOWLEDGED; any other outcome is counted and reported. The
 * single acknowledgements start with `warmupSeconds` of unmeasured ones from
 * the same pool (see the plan for why). The clients go on for `ackSeconds`
 * (or until the pool is used up); the rate is ACKNOWLEDGED answers over the
 * elapsed time.
 */
import { post } from '../clients/graphql.js';
import { summarizeMs } from '../support/histogram.js';
import { availableParallelism } from 'node:os';
import { crowdedNote, PhaseLoad } from '../support/load.js';
import { CpuWindow } from '../support/proc.js';
import { progress } from '../support/progress.js';
import { makePending, pendingSinceOf } from '../support/seed.js';
import { timeStep } from '../support/steps.js';
import type { BenchContext, Scenario } from './scenario.js';

const SINGLE = `mutation ($id: Int!, $since: DateTime!) { acknowledgeBuildFinished(buildId: $id, pendingSince: $since) { outcome } }`;
const BATCH = `mutation ($items: [AcknowledgeBuildFinishedInput!]!) { acknowledgeBuildsFinished(items: $items) { outcome } }`;

const iso = (id: number) => new Date(pendingSinceOf(id) * 1000).toISOString().replace('.000Z', 'Z');

interface Outcome {
  load: { machineCores: number; foreignCores: number };
  acknowledged: number;
  other: Record<string, number>;
  seconds: number;
  latencies: number[];
  exhausted: boolean;
  cpuMs: number;
}

async function drive(
  ctx: BenchContext,
  pid: number,
  seconds: number,
  clients: number,
  next: () => number[] | null,
  send: (ids: number[]) => Promise<{ outcomes: string[]; ms: number }>,
): Promise<Outcome> {
  const out: Outcome = {
    acknowledged: 0,
    other: {},
    seconds: 0,
    latencies: [],
    exhausted: false,
    cpuMs: 0,
    load: { machineCores: 0, foreignCores: 0 },
  };
  await ctx.quiet();
  const load = new PhaseLoad(availableParallelism(), ctx.postgres.postmasterPid);
  const cpu = new CpuWindow(pid);
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const ids = next();
        if (!ids) {
          out.exhausted = true;
          return;
        }
        const { outcomes, ms } = await send(ids);
        out.latencies.push(ms);
        for (const outcome of outcomes) {
          if (outcome === 'ACKNOWLEDGED') out.acknowledged++;
          else out.other[outcome] = (out.other[outcome] ?? 0) + 1;
        }
      }
    }),
  );
  out.seconds = (performance.now() - started) / 1000;
  out.cpuMs = cpu.elapsedMs();
  out.load = load.finish(out.cpuMs, 0);
  return out;
}

function record(ctx: BenchContext, run: number, caseName: string, outcome: Outcome, calls: string): void {
  const others = Object.entries(outcome.other);
  const notes = [];
  if (others.length) notes.push(`other outcomes: ${others.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (outcome.exhausted)
    notes.push(`its pool of pending builds was used up after ${outcome.seconds.toFixed(1)} s (the rate is over that time)`);
  const latency = summarizeMs(outcome.latencies);
  const note = crowdedNote(outcome.load, notes.length ? notes.join('; ') : undefined);
  ctx.results.record({
    scenario: 'acknowledge',
    case: caseName,
    subject: 'gateway',
    run,
    figure: 'acknowledgements per second',
    unit: '/s',
    value: outcome.acknowledged / outcome.seconds,
    note: notes.length ? notes.join('; ') : undefined,
    detail: {
      acknowledged: outcome.acknowledged,
      seconds: outcome.seconds,
      callLatency: latency,
      gatewayCpuPerAckMs: outcome.cpuMs / outcome.acknowledged,
      ...outcome.load,
    },
  });
  ctx.results.record({
    scenario: 'acknowledge',
    case: caseName,
    subject: 'gateway',
    run,
    figure: `acknowledge ${calls} latency p99`,
    unit: 'ms',
    value: latency.p99,
  });
  progress(`  acknowledge r${run} ${caseName}: ${Math.round(outcome.acknowledged / outcome.seconds)}/s, call p99 ${latency.p99} ms`);
}

async function runOnce(ctx: BenchContext, database: string, run: number): Promise<void> {
  const { history } = ctx.plan;
  const url = ctx.postgres.url(database);
  const pools = [history.ackPoolSingle, history.ackPoolBatched, history.ackPoolBatched];
  const perRun = pools.reduce((a, b) => a + b, 0);
  const from = history.pending + 1 + (run - 1) * perRun;
  if (from + perRun - 1 > history.builds) throw new Error('not enough builds for the acknowledgement pools');
  await timeStep('make pending builds', () => makePending(url, from, from + perRun - 1));
  const target = await ctx.startServer('gateway', `acknowledge-gateway-r${run}`, { existing: database });
  try {
    const gw = target.server.url;
    const pid = target.server.pid;
    const singleEnd = from + history.ackPoolSingle;
    let nextSingle = from;
    const warmEnd = performance.now() + history.warmupSeconds * 1000;
    await Promise.all(
      Array.from({ length: history.ackClients }, async () => {
        while (performance.now() < warmEnd && nextSingle < singleEnd) {
          const id = nextSingle++;
          await post(gw, SINGLE, { id, since: iso(id) });
        }
      }),
    );
    const single = await drive(
      ctx,
      pid,
      history.ackSeconds,
      history.ackClients,
      () => (nextSingle < singleEnd ? [nextSingle++] : null),
      async ([id]) => {
        const { data, ms } = await post<{ acknowledgeBuildFinished: { outcome: string } }>(gw, SINGLE, { id, since: iso(id!) });
        return { outcomes: [data.acknowledgeBuildFinished.outcome], ms };
      },
    );
    record(ctx, run, `single, ${history.ackClients} clients`, single, 'call');

    const sendBatch = async (ids: number[]) => {
      const items = ids.map((id) => ({ buildId: id, pendingSince: iso(id) }));
      const { data, ms } = await post<{ acknowledgeBuildsFinished: ({ outcome: string } | null)[] }>(gw, BATCH, { items });
      return { outcomes: data.acknowledgeBuildsFinished.map((r) => r?.outcome ?? 'NULL'), ms };
    };
    let poolStart = singleEnd;
    for (const clients of [1, history.ackClients]) {
      const end = poolStart + history.ackPoolBatched;
      let next = poolStart;
      const batched = await drive(
        ctx,
        pid,
        history.ackSeconds,
        clients,
        () => {
          if (next + history.ackBatch > end) return null;
          const ids = Array.from({ length: history.ackBatch }, (_, i) => next + i);
          next += history.ackBatch;
          return ids;
        },
        sendBatch,
      );
      record(ctx, run, `batches of ${history.ackBatch}, ${clients} client${clients > 1 ? 's' : ''}`, batched, 'batch call');
      poolStart = end;
    }
  } finally {
    await target.stop();
  }
}

/** The acknowledgement scenario; see the module contract. */
export const acknowledge: Scenario = {
  name: 'acknowledge',
  title: 'acknowledgements per second, single and batched',
  async run(ctx) {
    const database = await ctx.historyDatabase();
    for (let run = 1; run <= ctx.plan.runs; run++) {
      progress(`acknowledge run ${run}`);
      await runOnce(ctx, database, run).catch((error: Error) => ctx.warn(`acknowledge run ${run} failed: ${error.message}`));
    }
  },
};
