/**
 * Redelivery on demand: the latest finish of a build becomes pending again
 * for one consumer (acknowledgement and lease cleared), or is added to its
 * pending set if it never had it. Hydra's column is not touched.
 */
import type { Queryable } from '../../db/queryable.js';

/** The outcome of a redelivery request. */
export type RedeliverResult =
  { kind: 'ok'; buildId: number; pendingSince: number } | { kind: 'build-not-found' } | { kind: 'not-finished' };

/** Makes the latest finish of `buildId` pending again for `consumer`. */
export async function redeliver(db: Queryable, consumer: string, buildId: number): Promise<RedeliverResult> {
  const { rows } = await db.query(
    `/* redeliverOccurrence */
     WITH b AS (SELECT id, finished, coalesce(notificationpendingsince, stoptime) AS since FROM builds WHERE id = $2),
     upsert AS (
       INSERT INTO hydra_notify_gateway.occurrences (consumer, build_id, pending_since)
       SELECT $1, b.id, b.since FROM b WHERE b.finished = 1 AND b.since IS NOT NULL
       ON CONFLICT (consumer, build_id, pending_since)
       DO UPDATE SET acknowledged_at = NULL, lease_owner = NULL, lease_until = NULL
       RETURNING build_id, pending_since
     )
     SELECT (SELECT count(*) FROM b)::int AS found, (SELECT finished FROM b) AS finished,
            (SELECT pending_since FROM upsert) AS since`,
    [consumer, buildId],
  );
  const row = rows[0];
  if (!row || row.found === 0) return { kind: 'build-not-found' };
  if (row.since === null) return { kind: 'not-finished' };
  return { kind: 'ok', buildId, pendingSince: Number(row.since) };
}
