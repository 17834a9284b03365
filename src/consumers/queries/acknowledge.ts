/**
 * The statements of a consumer's acknowledgement: compare-and-set on its own
 * occurrences, and clearing Hydra's column once no active consumer still has
 * an occurrence pending.
 *
 * Contract: these are statements, not the rule. The rule (one transaction,
 * `lockBuilds` first in owner mode, then `acknowledgeOccurrences`, then
 * `clearFullyAcknowledged`) lives in consumers/acknowledgement.ts, its only
 * caller. Clearing is itself compare-and-set on the occurrence's
 * pendingSince: a newer finish is never cleared by an older one.
 */
import type { Queryable } from '../../db/queryable.js';
import type { Occurrence } from '../../hydra/rows.js';

/** Locks the `builds` rows of `buildIds`, in id order, until the transaction ends. */
export async function lockBuilds(db: Queryable, buildIds: readonly number[]): Promise<void> {
  if (buildIds.length === 0) return;
  await db.query('/* lockBuilds */ SELECT id FROM builds WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE', [buildIds]);
}

/** What one request found and did, in request order. */
export interface OccurrenceAck {
  /** The build exists. */
  found: boolean;
  finished: boolean;
  /** This statement acknowledged the occurrence. */
  acknowledged: boolean;
  /** The consumer has (or had) this occurrence in its pending set. */
  existed: boolean;
  /** The newest later occurrence of the build still pending for the consumer (Unix seconds). */
  newer: number | null;
}

/** Acknowledges occurrences of `consumer` that are still unacknowledged. */
export async function acknowledgeOccurrences(db: Queryable, consumer: string, requests: readonly Occurrence[]): Promise<OccurrenceAck[]> {
  if (requests.length === 0) return [];
  const { rows } = await db.query(
    `/* acknowledgeOccurrences */
     WITH req AS (
       SELECT * FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS r(build_id, since, ord)
     ), acked AS (
       UPDATE hydra_notify_gateway.occurrences o
       SET acknowledged_at = clock_timestamp(), lease_owner = NULL, lease_until = NULL
       FROM (SELECT DISTINCT ON (build_id, since) * FROM req ORDER BY build_id, since, ord) AS first
       WHERE o.consumer = $3 AND o.build_id = first.build_id AND o.pending_since = first.since AND o.acknowledged_at IS NULL
       RETURNING first.ord
     )
     SELECT b.id IS NOT NULL AS found, b.finished, a.ord IS NOT NULL AS acknowledged,
       EXISTS (SELECT 1 FROM hydra_notify_gateway.occurrences x
               WHERE x.consumer = $3 AND x.build_id = req.build_id AND x.pending_since = req.since) AS existed,
       (SELECT max(x.pending_since) FROM hydra_notify_gateway.occurrences x
        WHERE x.consumer = $3 AND x.build_id = req.build_id AND x.acknowledged_at IS NULL AND x.pending_since > req.since) AS newer
     FROM req LEFT JOIN builds b ON b.id = req.build_id LEFT JOIN acked a ON a.ord = req.ord
     ORDER BY req.ord`,
    [requests.map((r) => r.buildId), requests.map((r) => r.pendingSince), consumer],
  );
  return rows.map((r: Record<string, unknown>) => ({
    found: Boolean(r.found),
    finished: Number(r.finished) === 1,
    acknowledged: Boolean(r.acknowledged),
    existed: Boolean(r.existed),
    newer: r.newer === null ? null : Number(r.newer),
  }));
}

/**
 * Owner mode: clears `notificationpendingsince` of each occurrence that no
 * active (unpaused) consumer still has unacknowledged. Returns the build ids
 * cleared.
 */
export async function clearFullyAcknowledged(db: Queryable, occurrences: readonly Occurrence[]): Promise<number[]> {
  if (occurrences.length === 0) return [];
  const { rows } = await db.query(
    `/* clearFullyAcknowledged */
     UPDATE builds b SET notificationpendingsince = NULL
     FROM unnest($1::int[], $2::int[]) AS t(build_id, since)
     WHERE b.id = t.build_id AND b.notificationpendingsince = t.since
       AND NOT EXISTS (
         SELECT 1 FROM hydra_notify_gateway.occurrences o
         JOIN hydra_notify_gateway.consumers c ON c.name = o.consumer AND NOT c.paused
         WHERE o.build_id = t.build_id AND o.pending_since = t.since AND o.acknowledged_at IS NULL)
     RETURNING b.id`,
    [occurrences.map((o) => o.buildId), occurrences.map((o) => o.pendingSince)],
  );
  return rows.map((r: { id: number }) => Number(r.id));
}

/** The unacknowledged occurrences of `consumer` (for clearing after it is paused or removed). */
export async function unacknowledgedOf(db: Queryable, consumer: string): Promise<Occurrence[]> {
  const { rows } = await db.query(
    `/* unacknowledgedOf */ SELECT build_id, pending_since FROM hydra_notify_gateway.occurrences
     WHERE consumer = $1 AND acknowledged_at IS NULL`,
    [consumer],
  );
  return rows.map((r: Record<string, unknown>) => ({ buildId: Number(r.build_id), pendingSince: Number(r.pending_since) }));
}
