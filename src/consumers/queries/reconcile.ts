/**
 * Reconciling consumers' pending sets with Hydra's `builds` table, for what no
 * notification announced: finishes while no gateway listened, and finishes
 * whose NOTIFY Hydra never sent (it sends it in a later transaction than the
 * finish, so a crash between them loses it).
 *
 * Two sources, both read-only on Hydra's side: every build still pending
 * (`notificationpendingsince` set, Hydra's partial index), and every build
 * finished since `sinceUnix` (by `stoptime`, for observer mode, where
 * hydra-notify clears the column within seconds). A finish counts for a
 * consumer when it happened in or after the second the consumer was created:
 * Hydra's times are whole seconds, so a finish in that second may precede the
 * creation or follow it, and delivery is at least once: when in doubt,
 * include. Idempotent. Each consumer that gained occurrences is sent an
 * `hng_consumer` hint in the same statement (delivered at its commit, so
 * never before the rows), which wakes its subscriptions on every instance:
 * nothing else tells them.
 */
import { CONSUMER_CHANNEL } from '../../db/channels.js';
import type { Queryable } from '../../db/queryable.js';

/** Adds missing occurrences to every consumer and hints those that gained some; returns how many were added. */
export async function reconcileOccurrences(db: Queryable, sinceUnix: number | null): Promise<number> {
  const { rows } = await db.query(
    `/* reconcileOccurrences */
     WITH added AS (
       INSERT INTO hydra_notify_gateway.occurrences (consumer, build_id, pending_since)
       SELECT c.name, f.id, f.since
       FROM (
         SELECT b.id, b.notificationpendingsince AS since FROM builds b
         WHERE b.notificationpendingsince IS NOT NULL AND b.finished = 1
         UNION
         SELECT b.id, coalesce(b.notificationpendingsince, b.stoptime) FROM builds b
         WHERE $1::int IS NOT NULL AND b.finished = 1 AND b.stoptime >= $1::int
       ) AS f
       JOIN hydra_notify_gateway.consumers c ON f.since >= floor(extract(epoch FROM c.created_at))
       ON CONFLICT DO NOTHING
       RETURNING consumer
     )
     SELECT count(*)::int AS added, pg_notify($2, consumer) IS NULL AS hinted
     FROM added GROUP BY consumer`,
    [sinceUnix, CONSUMER_CHANNEL],
  );
  return rows.reduce((sum: number, r: Record<string, unknown>) => sum + Number(r.added), 0);
}
