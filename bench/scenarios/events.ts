/**
 * History pages (gateway alone): `events(first: 100)` with each event's
 * build row and its jobset, paged through the journal the burst filled
 * (at least `plan.history.burst` rows).
 *
 * Contract: each run starts a fresh gateway, requests `eventsWarmupPages`
 * pages unmeasured (warm-up: see the plan for why), then walks `eventsPages` pages from the start of the journal,
 * one after the other, recording each page's round trip, the gateway's CPU
 * per page (/proc) and the statements per page (pg_stat_statements, by
 * statement name; the gateway's own background statements, such as
 * heartbeats, are in the breakdown too and are few).
 */
import { walkAtLeast, walkPages } from '../clients/graphql.js';
import { summarizeMs } from '../support/histogram.js';
import { availableParallelism } from 'node:os';
import { crowdedNote, PhaseLoad } from '../support/load.js';
import { CpuWindow } from '../support/proc.js';
import { progress } from '../support/progress.js';
import { fillJournal, journalReader } from './journal.js';
import type { BenchContext, Scenario } from './scenario.js';
import { countStatements, resetStatements } from './statements.js';

/** The page query: each event with its build and the build's jobset. */
export const EVENTS_PAGE = `query ($after: String) {
  events(first: 100, after: $after) {
    edges { cursor node { __typename ... on BuildQueuedEvent { buildId build { id job jobset { name } } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

async function runOnce(ctx: BenchContext, database: string, run: number): Promise<void> {
  const { history } = ctx.plan;
  const target = await ctx.startServer('gateway', `events-gateway-r${run}`, { existing: database });
  const reader = await journalReader(ctx.postgres.url(database));
  try {
    const url = target.server.url;
    const journalRows = await reader.rows();
    const warmPages = await walkAtLeast(url, EVENTS_PAGE, 'events', history.eventsWarmupPages, history.eventsPages);
    await ctx.quiet();
    await resetStatements(reader.client);
    const load = new PhaseLoad(availableParallelism(), ctx.postgres.postmasterPid);
    const cpu = new CpuWindow(target.server.pid);
    const walk = await walkPages(url, EVENTS_PAGE, 'events', history.eventsPages);
    const cpuMs = cpu.elapsedMs();
    const phaseLoad = load.finish(cpuMs, 0);
    const statements = await countStatements(reader.client);
    const pages = walk.ms.length;
    const total = Object.values(statements).reduce((a, b) => a + b, 0);
    const perPage = Object.fromEntries(Object.entries(statements).map(([k, v]) => [k, v / pages]));
    const latency = summarizeMs(walk.ms);
    const edges = walk.edges.reduce((a, b) => a + b, 0);
    const note = crowdedNote(phaseLoad, pages < history.eventsPages ? `the journal ended after ${pages} pages` : undefined);
    const base = {
      scenario: 'events',
      case: `100 a page, ≥ ${history.burst.toLocaleString('en-US')} journal rows`,
      subject: 'gateway' as const,
      run,
      note,
    };
    const detail = { pages, edges, journalRows, warmupPages: warmPages, latency, statementsPerPage: perPage, ...phaseLoad };
    ctx.results.record({ ...base, figure: 'events page latency p50', unit: 'ms', value: latency.p50, detail });
    ctx.results.record({ ...base, figure: 'events page latency p99', unit: 'ms', value: latency.p99 });
    ctx.results.record({ ...base, figure: 'events page: gateway CPU per page', unit: 'ms', value: cpuMs / pages });
    ctx.results.record({
      ...base,
      figure: 'events page: statements per page',
      unit: '',
      value: total / pages,
      detail: { statementsPerPage: perPage },
    });
    const top = Object.entries(perPage)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
    progress(
      `  events r${run}: p50 ${latency.p50} ms, p99 ${latency.p99} ms, ${(cpuMs / pages).toFixed(1)} ms CPU/page, statements/page: ${top}`,
    );
  } finally {
    await reader.client.end().catch(() => {});
    await target.stop();
  }
}

/** The events-page scenario; see the module contract. */
export const events: Scenario = {
  name: 'events',
  title: 'events(first: 100) pages with rows over the journal',
  async run(ctx) {
    const database = await ctx.historyDatabase();
    await fillJournal(ctx, database, ctx.plan.history.burst);
    for (let run = 1; run <= ctx.plan.runs; run++) {
      progress(`events run ${run}: ${ctx.plan.history.eventsPages} pages`);
      await runOnce(ctx, database, run).catch((error: Error) => ctx.warn(`events run ${run} failed: ${error.message}`));
    }
  },
};
