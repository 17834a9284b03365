/**
 * The pending backlog (gateway alone): `pendingBuildFinished(first: 50)`
 * over the history database (`plan.history.builds` builds, of which
 * `plan.history.pending` are pending in Hydra's column).
 *
 * Contract: each run starts a fresh gateway, warms up by walking the backlog
 * until `warmupPages` pages have been answered, with the requests the
 * measurement sends besides its pages (unmeasured: see the plan and `warmUp`
 * for why; the warm-up's pages and time are in the figures' details), then
 * walks `pendingPages` pages one after the other (200 × 50 = the whole
 * backlog of 10,000), and then has `concurrentClients` clients each walk
 * `concurrentPagesEach` pages at once. Recorded: page round trips (p50, p99,
 * max), the gateway's CPU per page (/proc) and its GC pauses per page (its
 * /metrics, read before and after the walk), the slowest pages with how long
 * the client, the gateway and Postgres's backends each waited for a core
 * during them (waits.ts), and, concurrently, pages per second. The backlog
 * is read only; `acknowledge` runs after this.
 */
import { gcSince, gcTotals, walkAtLeast, walkPages } from '../clients/graphql.js';
import { summarizeMs } from '../support/histogram.js';
import { availableParallelism } from 'node:os';
import { crowdedNote, PhaseLoad } from '../support/load.js';
import { CpuWindow } from '../support/proc.js';
import { PageWaits } from '../support/waits.js';
import { progress } from '../support/progress.js';
import type { BenchContext, Scenario } from './scenario.js';

/** The page query, the README's example fields. */
export const PENDING_PAGE = `query ($after: String) {
  pendingBuildFinished(first: 50, after: $after) {
    edges { cursor pendingSince node { id job buildStatus } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/**
 * The unmeasured warm-up: `warmupPages` pages or more, sent as the measurement then sends them.
 * Each walk of `pendingPages` is preceded by a read of /metrics (the walk's GC figure reads it
 * before and after), and the first round is `concurrentClients` walks at once on their own
 * connections, as the concurrent figures are then taken. A gateway warmed on pages alone deoptimized much of its hot path on its first
 * /metrics request (the HTTP parser, the direct path, graphql-js's executor: `--trace-deopt` shows
 * "wrong map" and "code dependencies" deoptimizations) and compiled it again during the measured
 * walk, on V8's background threads: that was in the walk's CPU per page and, on two cores, kept
 * the client or Postgres waiting for one. A deployment scraped by Prometheus and read by several
 * clients is past that within its first minute.
 */
async function warmUp(ctx: BenchContext, url: string): Promise<{ pages: number; seconds: number }> {
  const { history } = ctx.plan;
  const started = performance.now();
  // The concurrent round first: its new connections deoptimize code paths too, and what follows
  // it is compiled again before the walk in a row (which had been slower after it).
  const concurrent = (await walkConcurrently(ctx, url)).reduce((sum, w) => sum + w.ms.length, 0);
  const walked = await walkAtLeast(url, PENDING_PAGE, 'pendingBuildFinished', history.warmupPages - concurrent, history.pendingPages, () =>
    gcTotals(url),
  );
  return { pages: concurrent + walked, seconds: (performance.now() - started) / 1000 };
}

/** `concurrentClients` walks of `concurrentPagesEach` pages at once, each on a connection of its own. */
function walkConcurrently(ctx: BenchContext, url: string): Promise<Awaited<ReturnType<typeof walkPages>>[]> {
  const { history } = ctx.plan;
  return Promise.all(
    Array.from({ length: history.concurrentClients }, () =>
      walkPages(url, PENDING_PAGE, 'pendingBuildFinished', history.concurrentPagesEach),
    ),
  );
}

async function runOnce(ctx: BenchContext, database: string, run: number): Promise<void> {
  const { history } = ctx.plan;
  const target = await ctx.startServer('gateway', `pending-gateway-r${run}`, { existing: database });
  try {
    const url = target.server.url;
    const warmup = await warmUp(ctx, url);
    const base = { scenario: 'pending', subject: 'gateway' as const, run };

    await ctx.quiet();
    const gcBefore = await gcTotals(url);
    // Made before the windows open: it lists the postmaster's children, a walk over /proc.
    const waits = new PageWaits(target.server.pid, ctx.postgres.postmasterPid);
    let load = new PhaseLoad(availableParallelism(), ctx.postgres.postmasterPid);
    let cpu = new CpuWindow(target.server.pid);
    waits.mark();
    const walk = await walkPages(url, PENDING_PAGE, 'pendingBuildFinished', history.pendingPages, null, () => waits.mark());
    const sequentialCpuMs = cpu.elapsedMs();
    const gc = gcSince(gcBefore, await gcTotals(url));
    const sequentialLoad = load.finish(sequentialCpuMs, 0);
    const pages = walk.ms.length;
    const sequential = summarizeMs(walk.ms);
    // The slowest pages (the p99 of 200 is the second) and how long each process waited for a core meanwhile.
    const slowest = waits.slowest(walk.ms, 4);
    const edges = walk.edges.reduce((a, b) => a + b, 0);
    const seqCase = `50 a page, ${pages} pages in a row`;
    const expected = Math.min(history.pending, history.pendingPages * 50);
    const note = crowdedNote(sequentialLoad, edges < expected ? `only ${edges} of ${expected} pending builds seen` : undefined);
    ctx.results.record({
      ...base,
      case: seqCase,
      figure: 'pendingBuildFinished page latency p50',
      unit: 'ms',
      value: sequential.p50,
      note,
      detail: { pages, edges, latency: sequential, warmup, slowest, ...sequentialLoad },
    });
    ctx.results.record({
      ...base,
      case: seqCase,
      figure: 'pendingBuildFinished page latency p99',
      unit: 'ms',
      value: sequential.p99,
      note,
    });
    ctx.results.record({
      ...base,
      case: seqCase,
      figure: 'pendingBuildFinished: gateway CPU per page',
      unit: 'ms',
      value: sequentialCpuMs / pages,
      note,
    });
    const gcMs = Object.values(gc).reduce((sum, { ms }) => sum + ms, 0);
    ctx.results.record({
      ...base,
      case: seqCase,
      figure: 'pendingBuildFinished: gateway GC pauses per page',
      unit: 'ms',
      value: gcMs / pages,
      note,
      detail: { byKind: gc },
    });

    await ctx.quiet();
    load = new PhaseLoad(availableParallelism(), ctx.postgres.postmasterPid);
    cpu = new CpuWindow(target.server.pid);
    const started = performance.now();
    const walks = await walkConcurrently(ctx, url);
    const seconds = (performance.now() - started) / 1000;
    const concurrentCpuMs = cpu.elapsedMs();
    const concurrentLoad = load.finish(concurrentCpuMs, 0);
    const conNote = crowdedNote(concurrentLoad);
    const all = walks.flatMap((w) => w.ms);
    const concurrent = summarizeMs(all);
    const conCase = `50 a page, ${history.concurrentClients} clients`;
    ctx.results.record({
      ...base,
      case: conCase,
      figure: 'pendingBuildFinished page latency p50',
      unit: 'ms',
      value: concurrent.p50,
      note: conNote,
      detail: { pages: all.length, latency: concurrent, ...concurrentLoad },
    });
    ctx.results.record({
      ...base,
      case: conCase,
      figure: 'pendingBuildFinished page latency p99',
      unit: 'ms',
      value: concurrent.p99,
      note: conNote,
    });
    ctx.results.record({
      ...base,
      case: conCase,
      figure: 'pendingBuildFinished: gateway CPU per page',
      unit: 'ms',
      value: concurrentCpuMs / all.length,
      note: conNote,
    });
    ctx.results.record({
      ...base,
      case: conCase,
      figure: 'pendingBuildFinished pages per second',
      unit: '/s',
      value: all.length / seconds,
      note: conNote,
    });
    const waited = slowest.map((w) => `${w.ms} ms (waits: client ${w.client}, gateway ${w.server}, postgres ${w.postgres})`);
    progress(`  pending r${run}: slowest pages in a row ${waited.join('; ')}`);
    progress(
      `  pending r${run}: in a row p50 ${sequential.p50} ms p99 ${sequential.p99} ms ${(sequentialCpuMs / pages).toFixed(2)} ms CPU/page, ${(gcMs / pages).toFixed(2)} ms GC/page (${gc.minor?.count ?? 0} scavenges); ${history.concurrentClients} clients p99 ${concurrent.p99} ms, ${Math.round(all.length / seconds)} pages/s`,
    );
  } finally {
    await target.stop();
  }
}

/** The pending-page scenario; see the module contract. */
export const pending: Scenario = {
  name: 'pending',
  title: 'pendingBuildFinished(first: 50) pages over the pending backlog',
  async run(ctx) {
    const database = await ctx.historyDatabase();
    for (let run = 1; run <= ctx.plan.runs; run++) {
      progress(`pending run ${run}`);
      await runOnce(ctx, database, run).catch((error: Error) => ctx.warn(`pending run ${run} failed: ${error.message}`));
    }
  },
};
