/**
 * The occurrences a consumer-bound webhook has still to enqueue: its
 * consumer's unacknowledged occurrences (read-only, from the consumer
 * service's table) that have no delivery of this webhook yet, oldest first.
 * A paused consumer has none to enqueue.
 */
import type { Queryable } from '../../db/queryable.js';

/** An occurrence without a delivery. */
export interface UnsentOccurrence {
  buildId: number;
  pendingSince: number;
  journalPosition: number | null;
  deliveries: number;
}

/** Up to `limit` occurrences of `consumer` that webhook `webhookId` has not enqueued. */
export async function unsentOccurrences(db: Queryable, webhookId: number, consumer: string, limit: number): Promise<UnsentOccurrence[]> {
  const { rows } = await db.query(
    `/* unsentOccurrences */ SELECT o.build_id, o.pending_since, o.journal_position, o.deliveries
     FROM hydra_notify_gateway.occurrences o
     JOIN hydra_notify_gateway.consumers c ON c.name = o.consumer AND NOT c.paused
     WHERE o.consumer = $2 AND o.acknowledged_at IS NULL
       AND NOT EXISTS (
         SELECT 1 FROM hydra_notify_gateway.webhook_deliveries d
         WHERE d.webhook_id = $1 AND d.build_id = o.build_id AND d.occurrence_since = o.pending_since)
     ORDER BY o.pending_since, o.build_id
     LIMIT $3`,
    [webhookId, consumer, limit],
  );
  return rows.map((r: Record<string, unknown>) => ({
    buildId: Number(r.build_id),
    pendingSince: Number(r.pending_since),
    journalPosition: r.journal_position === null ? null : Number(r.journal_position),
    deliveries: Number(r.deliveries),
  }));
}
