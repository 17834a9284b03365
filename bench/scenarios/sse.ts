/**
 * Idle Server-Sent Events subscribers: memory per subscriber and
 * connect-and-subscribe time, for the gateway (yoga's SSE with the gateway's
 * cursor plugin), plain yoga (yoga's own SSE) and the floor (a bare `http`
 * server writing SSE frames), one HTTP connection per subscription.
 *
 * Contract: as for WebSocket (see bed.ts): a small fleet in the baseline,
 * every subscription proven live by a probe event, garbage collected before
 * both readings; each size, run and server on a fresh server process.
 */
import { progress } from '../support/progress.js';
import { openBed } from './bed.js';
import { IdRanges } from './ids.js';
import type { Scenario } from './scenario.js';

/** The SSE scenario; see the module contract. */
export const sse: Scenario = {
  name: 'sse',
  title: 'Server-Sent Events: memory per idle subscriber, connect time',
  async run(ctx) {
    const template = await ctx.fanoutTemplate();
    const ids = new IdRanges(ctx.plan.fanout.builds);
    for (const size of ctx.plan.sse.sizes) {
      for (let run = 1; run <= ctx.plan.runs; run++) {
        for (const kind of ctx.plan.servers) {
          const label = `sse-${kind}-n${size}-r${run}`;
          progress(`sse ${kind}, ${size} subscribers, run ${run}`);
          try {
            const bed = await openBed(ctx, {
              kind,
              transport: 'sse',
              subscribers: size,
              label,
              template,
              ids,
              measureMemory: true,
              readPostgresIdle: false,
            });
            try {
              const m = bed.memory!;
              const base = { scenario: 'sse', case: `${size} subs`, subject: kind, run };
              const note = m.settled ? undefined : 'server not quiet when read';
              ctx.results.record({
                ...base,
                figure: 'connect-and-subscribe time (SSE)',
                unit: 'ms',
                value: bed.subscribedMs,
                detail: { socketsOpenMs: bed.connectMs },
              });
              ctx.results.record({
                ...base,
                figure: 'memory per idle SSE subscriber (RSS)',
                unit: 'KB',
                value: m.rssPerSubscriber / 1024,
                note,
                detail: { ...m },
              });
              ctx.results.record({
                ...base,
                figure: 'memory per idle SSE subscriber (heap+external)',
                unit: 'KB',
                value: m.heapPerSubscriber / 1024,
                note,
              });
              progress(
                `  ${kind} ${size} SSE subs r${run}: subscribed in ${Math.round(bed.subscribedMs)} ms, ${(m.rssPerSubscriber / 1024).toFixed(1)} KB RSS per idle subscriber`,
              );
            } finally {
              await bed.close();
            }
          } catch (error) {
            ctx.warn(`sse ${kind} ${size} subs run ${run} failed: ${(error as Error).message}`);
          }
        }
      }
    }
  },
};
