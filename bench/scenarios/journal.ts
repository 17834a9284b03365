/**
 * Reading the gateway's journal from outside, through SQL on its table
 * `hydra_notify_gateway.journal` (its public, documented schema): the
 * highest position, and waiting until the gateway records.
 *
 * Contract: nothing here writes to the journal. `awaitRecording` sends
 * build_queued probes (as Hydra's evaluator would) until the journal grows,
 * which proves this gateway holds the recorder role and journals what it
 * hears; `fillJournal` makes a journal hold at least `rows` rows for
 * scenarios run alone (`--only=events`), unmeasured.
 */
import pg from 'pg';
import { sleep } from '../support/clock.js';
import { Notifier } from '../support/notifier.js';
import { progress } from '../support/progress.js';
import type { BenchContext } from './scenario.js';

/** A connection for reading the journal. */
export async function journalReader(url: string): Promise<{ maxPosition(): Promise<number>; rows(): Promise<number>; client: pg.Client }> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-journal-probe' });
  await client.connect();
  return {
    client,
    maxPosition: async () =>
      Number(
        (await client.query<{ p: string | null }>('/* benchJournalMax */ SELECT max(position) AS p FROM hydra_notify_gateway.journal'))
          .rows[0]!.p ?? 0,
      ),
    rows: async () =>
      Number(
        (await client.query<{ n: string }>('/* benchJournalRows */ SELECT count(*) AS n FROM hydra_notify_gateway.journal')).rows[0]!.n,
      ),
  };
}

/** Sends probes until the journal's max position grows; rejects after `timeoutMs`. */
export async function awaitRecording(notifier: Notifier, maxPosition: () => Promise<number>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const start = await maxPosition().catch(() => 0);
  while (Date.now() < deadline) {
    await notifier.burst('build_queued', 1, 1);
    await sleep(100);
    if ((await maxPosition().catch(() => 0)) > start) return;
  }
  throw new Error(`the gateway journaled nothing within ${timeoutMs} ms`);
}

/** Makes the history database's journal hold at least `rows` rows (unmeasured). */
export async function fillJournal(ctx: BenchContext, database: string, rows: number): Promise<void> {
  const url = ctx.postgres.url(database);
  const reader = await journalReader(url);
  try {
    const have = await reader.rows().catch(() => 0);
    if (have >= rows) return;
    progress(`filling the journal of ${database}: ${have} → ${rows} rows (not measured)`);
    const target = await ctx.startServer('gateway', 'journal-fill', { existing: database });
    const notifier = await Notifier.open(url, 1);
    try {
      await awaitRecording(notifier, reader.maxPosition);
      const need = rows - have;
      const start = await reader.maxPosition();
      await notifier.bulk('build_queued', 1, need, ctx.plan.history.perTransaction);
      const deadline = Date.now() + ctx.plan.history.burstTimeoutSeconds * 1000;
      while ((await reader.maxPosition()) < start + need) {
        if (Date.now() > deadline) throw new Error('the journal did not fill in time');
        await sleep(250);
      }
    } finally {
      await notifier.close();
      await target.stop();
    }
  } finally {
    await reader.client.end();
  }
}
