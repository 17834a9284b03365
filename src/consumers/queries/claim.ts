/**
 * Delivery leases on a consumer's occurrences (the "visibility timeout").
 *
 * Contract: `claimOccurrences` hands out the oldest unacknowledged
 * occurrences whose lease is free or expired, leasing them to `session` for
 * `visibilityMs`; concurrent claimers (several subscriptions of one consumer,
 * on any instance) skip each other's rows (`FOR UPDATE SKIP LOCKED`), so an
 * occurrence is with one subscriber at a time. Unacknowledged, it becomes
 * claimable again when the lease expires, or at once when its subscriber
 * goes away (`releaseLeases`, which hints the consumer). A paused consumer
 * gets nothing.
 */
import { CONSUMER_CHANNEL } from '../../db/channels.js';
import type { Queryable } from '../../db/queryable.js';

/** An occurrence handed to a subscriber. */
export interface Claimed {
  buildId: number;
  pendingSince: number;
  journalPosition: number | null;
  deliveries: number;
}

/** Leases up to `limit` deliverable occurrences of `consumer` to `session`, oldest first. */
export async function claimOccurrences(
  db: Queryable,
  options: { consumer: string; session: string; visibilityMs: number; limit: number },
): Promise<Claimed[]> {
  const { rows } = await db.query(
    `/* claimOccurrences */
     UPDATE hydra_notify_gateway.occurrences o
     SET lease_owner = $2, lease_until = clock_timestamp() + $3 * interval '1 millisecond', deliveries = o.deliveries + 1
     FROM (
       SELECT n.consumer, n.build_id, n.pending_since
       FROM hydra_notify_gateway.occurrences n
       JOIN hydra_notify_gateway.consumers c ON c.name = n.consumer AND NOT c.paused
       WHERE n.consumer = $1 AND n.acknowledged_at IS NULL
         AND (n.lease_until IS NULL OR n.lease_until < clock_timestamp())
       ORDER BY n.pending_since, n.build_id
       LIMIT $4
       FOR UPDATE OF n SKIP LOCKED
     ) AS next
     WHERE o.consumer = next.consumer AND o.build_id = next.build_id AND o.pending_since = next.pending_since
     RETURNING o.build_id, o.pending_since, o.journal_position, o.deliveries`,
    [options.consumer, options.session, options.visibilityMs, options.limit],
  );
  return rows
    .map((r: Record<string, unknown>) => ({
      buildId: Number(r.build_id),
      pendingSince: Number(r.pending_since),
      journalPosition: r.journal_position === null ? null : Number(r.journal_position),
      deliveries: Number(r.deliveries),
    }))
    .sort((a, b) => a.pendingSince - b.pendingSince || a.buildId - b.buildId);
}

/**
 * Ends `session`'s leases on unacknowledged occurrences of `consumer`: they are claimable again
 * now, and when there were any, an `hng_consumer` hint in the same statement wakes the consumer's
 * other subscriptions (on every instance) to claim them. Returns how many.
 */
export async function releaseLeases(db: Queryable, consumer: string, session: string): Promise<number> {
  const { rows } = await db.query(
    `/* releaseLeases */
     WITH released AS (
       UPDATE hydra_notify_gateway.occurrences SET lease_owner = NULL, lease_until = NULL
       WHERE lease_owner = $1 AND acknowledged_at IS NULL
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM released)::int AS released,
            (SELECT pg_notify($2, $3) WHERE EXISTS (SELECT 1 FROM released)) IS NULL AS hinted`,
    [session, CONSUMER_CHANNEL, consumer],
  );
  return Number(rows[0].released);
}
