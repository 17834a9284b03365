/**
 * Retention: journal rows older than `retentionMs` are pruned every
 * `everyMs` by the instance that records (others skip), in batches of
 * `batch` rows, so pruning never blocks recording (see queries/prune.ts).
 * What else keeps rows by the journal's retention (consumers'
 * acknowledgements) is pruned in the same run, through `alsoPrune`, with the
 * same cutoff.
 */
import type { Queryable } from '../db/queryable.js';
import type { Log } from '../log.js';
import { pruneJournalBatch } from './queries/prune.js';

/** Prunes old journal rows, and whatever else is kept as long. */
export class Retention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly options: {
      db: Queryable;
      log: Log;
      /** @default 30 days */
      retentionMs: number;
      /** @default 600_000 // 10 minutes */
      everyMs?: number;
      /** Whether this instance should prune now (the recorder does). */
      active: () => boolean;
      /** @default 5_000 */
      batch?: number;
      /** Other pruning by the same cutoff, after the journal's. */
      alsoPrune?: readonly ((cutoff: Date) => Promise<unknown>)[];
    },
  ) {}

  /** Prunes periodically from now on. */
  start(): void {
    this.timer = setInterval(() => {
      if (this.options.active())
        void this.prune().catch((error: Error) => this.options.log.warn('pruning failed', { error: error.message }));
    }, this.options.everyMs ?? 600_000);
    this.timer.unref();
  }

  /** Stops pruning (an ongoing batch finishes). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Prunes everything received before `cutoff` (default: now minus retention); returns journal rows deleted. */
  async prune(cutoff = new Date(Date.now() - this.options.retentionMs)): Promise<number> {
    if (this.running) return this.running;
    this.running = (async () => {
      const batch = this.options.batch ?? 5_000;
      let total = 0;
      for (let n = batch; n === batch; total += n) n = await pruneJournalBatch(this.options.db, cutoff, batch);
      for (const prune of this.options.alsoPrune ?? []) await prune(cutoff);
      if (total > 0) this.options.log.info('pruned the journal', { rows: total, before: cutoff.toISOString() });
      return total;
    })().finally(() => (this.running = null));
    return this.running;
  }
}
