/**
 * The journal under an evaluation's burst (gateway alone): how fast a burst
 * of build_queued notifications (sent in transactions of
 * `plan.history.perTransaction`, as an evaluation's commit sends them) is
 * journaled, beside how fast a raw LISTEN client in its own process receives
 * the same burst, and the gateway's memory during and after it.
 *
 * Contract: each run starts a fresh gateway on the history database (its
 * journal grows run after run: `events` pages through it afterwards), proves
 * it records, then sends the burst. The recording rate is the burst's size
 * over the time from the first transaction sent to the journal's max position
 * reaching start + size (polled every 100 ms); the raw rate is the same size
 * over the time to the raw client's last arrival. Peak RSS is the kernel's
 * high-water mark (VmHWM) of the gateway process; RSS is also read right after
 * the burst is journaled, `settleSeconds` later, and after a forced GC.
 */
import { join } from 'node:path';
import type { Subject } from '../report.js';
import { spawnChild } from '../support/children.js';
import { nowUs, sleep } from '../support/clock.js';
import { Notifier } from '../support/notifier.js';
import { CpuWindow, memory } from '../support/proc.js';
import { crowdedNote, PhaseLoad } from '../support/load.js';
import { availableParallelism } from 'node:os';
import { progress } from '../support/progress.js';
import { awaitRecording, journalReader } from './journal.js';
import type { BenchContext, Scenario } from './scenario.js';

const MB = 1024 * 1024;

async function runOnce(ctx: BenchContext, database: string, run: number): Promise<void> {
  const { history } = ctx.plan;
  const url = ctx.postgres.url(database);
  const target = await ctx.startServer('gateway', `burst-gateway-r${run}`, { existing: database });
  const listener = spawnChild({
    name: `burst-listen-r${run}`,
    entry: 'clients/listen.ts',
    env: { BENCH_DATABASE_URL: url, BENCH_CHANNEL: 'build_queued' },
    logFile: join(ctx.logDir, `burst-listen-r${run}.log`),
  });
  const notifier = await Notifier.open(url, 1);
  const reader = await journalReader(url);
  try {
    await listener.waitForEvent('listening', 30_000);
    await awaitRecording(notifier, reader.maxPosition);
    await sleep(500);
    const pid = target.server.pid;
    const before = memory(pid);
    const startPosition = await reader.maxPosition();
    await listener.request('expect', { count: history.burst });
    const received = listener.waitForEvent('received', history.burstTimeoutSeconds * 1000);
    received.catch(() => {});

    await ctx.quiet();
    const rss: [number, number][] = [];
    const load = new PhaseLoad(availableParallelism(), ctx.postgres.postmasterPid);
    const gatewayCpu = new CpuWindow(pid);
    const listenerCpu = new CpuWindow(listener.pid);
    const t0 = nowUs();
    let sentUs: number | null = null;
    const sending = notifier.bulk('build_queued', 1, history.burst, history.perTransaction).then(() => (sentUs = nowUs()));
    sending.catch(() => {});
    let journaledUs: number | null = null;
    let lastProgress = Date.now();
    const deadline = Date.now() + history.burstTimeoutSeconds * 1000;
    while (Date.now() < deadline) {
      await sleep(100);
      const m = memory(pid);
      if (m) rss.push([(nowUs() - t0) / 1000, m.rss]);
      const position = await reader.maxPosition();
      if (Date.now() - lastProgress > 5_000) {
        progress(
          `  journaled ${(position - startPosition).toLocaleString('en-US')} of ${history.burst.toLocaleString('en-US')}, RSS ${Math.round((m?.rss ?? 0) / MB)} MB`,
        );
        lastProgress = Date.now();
      }
      if (position >= startPosition + history.burst) {
        journaledUs = nowUs();
        break;
      }
    }
    await sending;
    const raw = await received.catch(() => null);
    const rawReport = (raw ?? (await listener.request<{ count: number; lastUs: number | null }>('report'))) as {
      count: number;
      lastUs: number | null;
    };
    const after = memory(pid);
    const phaseLoad = load.finish(gatewayCpu.elapsedMs(), listenerCpu.elapsedMs());
    await sleep(history.settleSeconds * 1000);
    const settled = memory(pid);
    const gc = await target.server.gc();
    const journaledRows = Number(
      (
        await reader.client.query<{ n: string }>(
          '/* benchJournalSince */ SELECT count(*) AS n FROM hydra_notify_gateway.journal WHERE position > $1',
          [startPosition],
        )
      ).rows[0]!.n,
    );

    const seconds = (us: number | null) => (us === null ? NaN : (us - t0) / 1e6);
    const note =
      journaledUs === null
        ? `journal reached only ${journaledRows} of ${history.burst} rows within ${history.burstTimeoutSeconds} s`
        : undefined;
    const base = { scenario: 'burst', case: `${history.burst.toLocaleString('en-US')} notifications`, run };
    const rec = (
      subject: Subject,
      figure: string,
      unit: string,
      value: number | null,
      extra: { note?: string; detail?: Record<string, unknown> } = {},
    ) => ctx.results.record({ ...base, subject, figure, unit, value, ...extra });
    const detail = {
      sendSeconds: seconds(sentUs),
      journaledSeconds: seconds(journaledUs),
      rawSeconds: seconds(rawReport.lastUs),
      rawReceived: rawReport.count,
      journaledRows,
      rssBefore: before?.rss,
      ...phaseLoad,
      rssTimeline: rss.filter((_, i) => i % 5 === 0),
    };
    rec(
      'gateway',
      'burst: notifications per second (gateway journaled, floor = raw LISTEN received)',
      '/s',
      journaledUs === null ? null : history.burst / seconds(journaledUs),
      { note, detail },
    );
    rec(
      'floor',
      'burst: notifications per second (gateway journaled, floor = raw LISTEN received)',
      '/s',
      rawReport.count === history.burst ? history.burst / seconds(rawReport.lastUs) : null,
      {
        note: crowdedNote(phaseLoad, rawReport.count === history.burst ? undefined : `raw client received ${rawReport.count}`),
      },
    );
    rec('gateway', 'burst: peak RSS (VmHWM)', 'MB', (settled?.peak ?? NaN) / MB, { detail: { before: (before?.rss ?? NaN) / MB } });
    rec('gateway', 'burst: RSS when journaled', 'MB', (after?.rss ?? NaN) / MB);
    rec('gateway', `burst: RSS ${history.settleSeconds} s later`, 'MB', (settled?.rss ?? NaN) / MB);
    rec('gateway', 'burst: RSS after forced GC', 'MB', gc.rss / MB);
    progress(
      `  burst r${run}: journaled ${Math.round(history.burst / seconds(journaledUs))}/s, raw LISTEN ${Math.round(history.burst / seconds(rawReport.lastUs))}/s, peak RSS ${Math.round((settled?.peak ?? 0) / MB)} MB, ${Math.round((settled?.rss ?? 0) / MB)} MB after`,
    );
  } finally {
    await reader.client.end().catch(() => {});
    await notifier.close();
    await listener.stop(5_000);
    await target.stop();
  }
}

/** The burst scenario; see the module contract. */
export const burst: Scenario = {
  name: 'burst',
  title: 'journal recording rate and gateway RSS under a burst of notifications',
  async run(ctx) {
    const database = await ctx.historyDatabase();
    for (let run = 1; run <= ctx.plan.runs; run++) {
      progress(
        `burst run ${run}: ${ctx.plan.history.burst.toLocaleString('en-US')} notifications in transactions of ${ctx.plan.history.perTransaction}`,
      );
      await runOnce(ctx, database, run).catch((error: Error) => ctx.warn(`burst run ${run} failed: ${error.message}`));
    }
  },
};
