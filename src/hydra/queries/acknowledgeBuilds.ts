/**
 * Compare-and-set on Hydra's `builds.notificationpendingsince`: the only
 * write the gateway makes to Hydra's tables.
 *
 * Contract: one statement clears the column for each requested occurrence
 * (build, pendingSince) whose build is finished and whose column still holds
 * exactly that value. Row locks make concurrent acknowledgements of one
 * occurrence serialize: exactly one clears it, the others see their WHERE
 * clause re-checked against the committed row and clear nothing. For every
 * request the statement also reports the row as this statement's snapshot
 * saw it; what that means for the caller is decided in
 * consumers/acknowledgement.ts, not here.
 */
import type { Queryable } from '../../db/queryable.js';
import type { Occurrence } from '../rows.js';

/** What one request found and did, in request order. */
export interface ColumnAck {
  /** The build exists. */
  found: boolean;
  finished: boolean;
  /** The column as the statement's snapshot saw it (Unix seconds). */
  pending: number | null;
  /** This statement cleared it. */
  cleared: boolean;
}

/** Clears the column of each occurrence still pending with exactly its pendingSince. */
export async function clearPendingColumn(db: Queryable, requests: readonly Occurrence[]): Promise<ColumnAck[]> {
  if (requests.length === 0) return [];
  const { rows } = await db.query(
    `/* clearPendingColumn */
     WITH req AS (
       SELECT * FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS r(build_id, since, ord)
     ), cleared AS (
       UPDATE builds b SET notificationpendingsince = NULL
       -- Of identical requests in one batch, the earliest is the one that clears.
       FROM (SELECT DISTINCT ON (build_id, since) * FROM req ORDER BY build_id, since, ord) AS first
       WHERE b.id = first.build_id AND b.finished = 1 AND b.notificationpendingsince = first.since
       RETURNING first.ord
     )
     SELECT b.id IS NOT NULL AS found, b.finished, b.notificationpendingsince AS pending, c.ord IS NOT NULL AS cleared
     FROM req LEFT JOIN builds b ON b.id = req.build_id LEFT JOIN cleared c ON c.ord = req.ord
     ORDER BY req.ord`,
    [requests.map((r) => r.buildId), requests.map((r) => r.pendingSince)],
  );
  return rows.map((r: Record<string, unknown>) => ({
    found: Boolean(r.found),
    finished: Number(r.finished) === 1,
    pending: r.pending === null ? null : Number(r.pending),
    cleared: Boolean(r.cleared),
  }));
}
