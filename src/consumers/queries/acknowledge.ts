/**
 * A consumer's acknowledgements: compare-and-set on its own occurrences, and,
 * in owner mode, clearing Hydra's column once no active consumer still has
 * the occurrence pending.
 *
 * Contract: the caller runs `lockBuilds`, `acknowledgeOccurrences` and (owner
 * mode) `clearFullyAcknowledged` in ONE transaction, in that order. The row
 * locks on `builds` serialize acknowledgements of the same builds across
 * consumers, and each statement takes a fresh snapshot (READ COMMITTED), so
 * the last consumer to acknowledge always sees the others' acknowledgements
 * and clears the column: it can never stay set because two consumers
 * acknowledged at the same moment. Clearing is itself compare-and-set on the
 * occurrence's pendingSince: a newer finish is never cleared by an older one.
 */
import type { Queryable } from '../../db/queryable.js';
import type { AckRequest, AckResult } from '../../hydra/queries/acknowledgeBuilds.js';

/** Locks the `builds` rows of `buildIds` until the transaction ends. */
export async function lockBuilds(db: Queryable, buildIds: readonly number[]): Promise<void> {
  await db.query('/* lockBuilds */ SELECT id FROM builds WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE', [buildIds]);
}

interface Row {
  ord: string;
  found: boolean;
  finished: number | null;
  cleared: boolean;
  existed: boolean;
  newer: number | null;
}

/** Acknowledges occurrences of `consumer`, answering in request order. */
export async function acknowledgeOccurrences(db: Queryable, consumer: string, requests: readonly AckRequest[]): Promise<AckResult[]> {
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
     SELECT req.ord, b.id IS NOT NULL AS found, b.finished, a.ord IS NOT NULL AS cleared,
       EXISTS (SELECT 1 FROM hydra_notify_gateway.occurrences x
               WHERE x.consumer = $3 AND x.build_id = req.build_id AND x.pending_since = req.since) AS existed,
       (SELECT max(x.pending_since) FROM hydra_notify_gateway.occurrences x
        WHERE x.consumer = $3 AND x.build_id = req.build_id AND x.acknowledged_at IS NULL AND x.pending_since > req.since) AS newer
     FROM req LEFT JOIN builds b ON b.id = req.build_id LEFT JOIN acked a ON a.ord = req.ord
     ORDER BY req.ord`,
    [requests.map((r) => r.buildId), requests.map((r) => r.pendingSince), consumer],
  );
  return (rows as Row[]).map((row, i) => {
    const { buildId } = requests[i]!;
    if (!row.found) return { buildId, outcome: 'NOT_FOUND', currentPendingSince: null };
    if (row.cleared) return { buildId, outcome: 'ACKNOWLEDGED', currentPendingSince: null };
    const newer = row.newer === null ? null : Number(row.newer);
    // Existed but not cleared here: acknowledged before, or by a concurrent call that won the row lock.
    if (row.existed) return { buildId, outcome: 'ALREADY_ACKNOWLEDGED', currentPendingSince: newer };
    if (newer !== null) return { buildId, outcome: 'STALE', currentPendingSince: newer };
    if (Number(row.finished) !== 1) return { buildId, outcome: 'NOT_FINISHED', currentPendingSince: null };
    return { buildId, outcome: 'ALREADY_ACKNOWLEDGED', currentPendingSince: null };
  });
}

/**
 * Owner mode: clears `notificationpendingsince` of each (build, pendingSince)
 * that no active (unpaused) consumer still has unacknowledged. Returns the
 * build ids cleared.
 */
export async function clearFullyAcknowledged(db: Queryable, occurrences: readonly AckRequest[]): Promise<number[]> {
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
export async function unacknowledgedOf(db: Queryable, consumer: string): Promise<AckRequest[]> {
  const { rows } = await db.query(
    `/* unacknowledgedOf */ SELECT build_id, pending_since FROM hydra_notify_gateway.occurrences
     WHERE consumer = $1 AND acknowledged_at IS NULL`,
    [consumer],
  );
  return rows.map((r: Record<string, unknown>) => ({ buildId: Number(r.build_id), pendingSince: Number(r.pending_since) }));
}
