/**
 * Retention of consumers' acknowledgements: deleting occurrences acknowledged
 * before a cutoff, in small batches, each its own short statement.
 */
import type { Queryable } from '../../db/queryable.js';

/** Deletes up to `batch` occurrences acknowledged before `cutoff`; returns how many. */
export async function pruneOccurrencesBatch(db: Queryable, cutoff: Date, batch: number): Promise<number> {
  const { rowCount } = await db.query(
    `/* pruneOccurrencesBatch */
     DELETE FROM hydra_notify_gateway.occurrences o
     WHERE (o.consumer, o.build_id, o.pending_since) IN (
       SELECT x.consumer, x.build_id, x.pending_since FROM hydra_notify_gateway.occurrences x
       WHERE x.acknowledged_at < $1
         -- Still pending in Hydra (another consumer has not acknowledged): keep the
         -- acknowledgement, or reconciliation would make it pending again.
         AND NOT EXISTS (SELECT 1 FROM builds b WHERE b.id = x.build_id AND b.notificationpendingsince = x.pending_since)
       LIMIT $2)`,
    [cutoff, batch],
  );
  return rowCount ?? 0;
}
