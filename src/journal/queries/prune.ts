/**
 * Retention of the journal: deleting rows received before a cutoff, in small
 * batches. Each batch is its own short statement on the query pool, deleting
 * only old rows, so the recorder, appending at the other end, never waits on
 * it. `recorder.pruned_through` only grows: cursors at or below it have lost
 * events and are refused (CURSOR_EXPIRED).
 */
import type { Queryable } from '../../db/queryable.js';

/** Deletes up to `batch` journal rows received before `cutoff`; returns how many. */
export async function pruneJournalBatch(db: Queryable, cutoff: Date, batch: number): Promise<number> {
  const { rows } = await db.query(
    `/* pruneJournalBatch */
     WITH doomed AS (
       SELECT position FROM hydra_notify_gateway.journal
       WHERE position <= (SELECT max(position) FROM hydra_notify_gateway.journal WHERE received_at < $1)
       ORDER BY position LIMIT $2
     ), gone AS (
       DELETE FROM hydra_notify_gateway.journal j USING doomed d WHERE j.position = d.position RETURNING j.position
     ), mark AS (
       UPDATE hydra_notify_gateway.recorder
       SET pruned_through = greatest(pruned_through, (SELECT max(position) FROM gone))
       WHERE EXISTS (SELECT 1 FROM gone)
     )
     SELECT count(*)::int AS pruned FROM gone`,
    [cutoff, batch],
  );
  return Number(rows[0].pruned);
}
