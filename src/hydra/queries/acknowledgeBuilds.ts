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
import type { Prepared, Queryable } from '../../db/queryable.js';
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

/**
 * One occurrence (a single acknowledgement, the common call) is the prepared
 * statement: the same compare-and-set and the same snapshot of the row, with
 * `= $1` instead of a one-row `unnest`, parsed and planned once per connection
 * (a generic plan of `= $1` costs what a custom one does).
 */
const CLEAR_ONE: Prepared = {
  name: 'clearPendingColumnOne',
  text: `/* clearPendingColumnOne */
     WITH cleared AS (
       UPDATE builds b SET notificationpendingsince = NULL
       WHERE b.id = $1::int AND b.finished = 1 AND b.notificationpendingsince = $2::int
       RETURNING b.id
     )
     SELECT b.id IS NOT NULL AS found, b.finished, b.notificationpendingsince AS pending,
       EXISTS (SELECT 1 FROM cleared) AS cleared
     FROM (VALUES ($1::int)) AS req(build_id) LEFT JOIN builds b ON b.id = req.build_id`,
};

/** Clears the column of each occurrence still pending with exactly its pendingSince. */
export async function clearPendingColumn(db: Queryable, requests: readonly Occurrence[]): Promise<ColumnAck[]> {
  if (requests.length === 0) return [];
  const { rows } =
    requests.length === 1 ? await db.query(CLEAR_ONE, [requests[0]!.buildId, requests[0]!.pendingSince]) : await clearMany(db, requests);
  return rows.map((r: Record<string, unknown>) => ({
    found: Boolean(r.found),
    finished: Number(r.finished) === 1,
    pending: r.pending === null ? null : Number(r.pending),
    cleared: Boolean(r.cleared),
  }));
}

/** The batch form: `unnest` keeps request order and lets the earliest of identical requests clear. */
function clearMany(db: Queryable, requests: readonly Occurrence[]) {
  return db.query(
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
}
