/**
 * Compare-and-set acknowledgement of `build_finished` occurrences: the only
 * write the gateway makes to Hydra's tables.
 *
 * Contract: one statement clears `builds.notificationpendingsince` for each
 * requested (build, pendingSince) whose build is finished and whose column
 * still holds exactly that value. Row locks make concurrent acknowledgements
 * of one occurrence serialize: exactly one clears it, the others see their
 * WHERE clause re-checked against the committed row and clear nothing. For
 * every request the statement also reports the row as this statement's
 * snapshot saw it, from which `outcomeOf` derives the answer.
 */
import type { Queryable } from '../../db/queryable.js';

/** One acknowledgement request. */
export interface AckRequest {
  buildId: number;
  /** Hydra's `notificationpendingsince`, Unix seconds. */
  pendingSince: number;
}

/** What became of one request. */
export type AckOutcome = 'ACKNOWLEDGED' | 'ALREADY_ACKNOWLEDGED' | 'STALE' | 'NOT_FINISHED' | 'NOT_FOUND';

/** The outcome of one request, with the pending value it was compared against. */
export interface AckResult {
  buildId: number;
  outcome: AckOutcome;
  /** The pending value after the statement: null once acknowledged. */
  currentPendingSince: number | null;
}

interface Row {
  ord: string;
  found: boolean;
  finished: number | null;
  pending: number | null;
  cleared: boolean;
}

/** Acknowledges each request, answering in request order. */
export async function acknowledgeBuilds(db: Queryable, requests: readonly AckRequest[]): Promise<AckResult[]> {
  if (requests.length === 0) return [];
  const { rows } = await db.query(
    `/* acknowledgeBuilds */
     WITH req AS (
       SELECT * FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS r(build_id, since, ord)
     ), cleared AS (
       UPDATE builds b SET notificationpendingsince = NULL
       -- Of identical requests in one batch, the earliest is the one that clears.
       FROM (SELECT DISTINCT ON (build_id, since) * FROM req ORDER BY build_id, since, ord) AS first
       WHERE b.id = first.build_id AND b.finished = 1 AND b.notificationpendingsince = first.since
       RETURNING first.ord
     )
     SELECT req.ord, b.id IS NOT NULL AS found, b.finished, b.notificationpendingsince AS pending,
            c.ord IS NOT NULL AS cleared
     FROM req LEFT JOIN builds b ON b.id = req.build_id LEFT JOIN cleared c ON c.ord = req.ord
     ORDER BY req.ord`,
    [requests.map((r) => r.buildId), requests.map((r) => r.pendingSince)],
  );
  return (rows as Row[]).map((row, i) => outcomeOf(requests[i]!, row));
}

function outcomeOf(request: AckRequest, row: Row): AckResult {
  const { buildId, pendingSince } = request;
  if (!row.found) return { buildId, outcome: 'NOT_FOUND', currentPendingSince: null };
  const pending = row.pending === null ? null : Number(row.pending);
  if (row.cleared) return { buildId, outcome: 'ACKNOWLEDGED', currentPendingSince: null };
  if (Number(row.finished) !== 1) return { buildId, outcome: 'NOT_FINISHED', currentPendingSince: pending };
  // The snapshot predates a concurrent acknowledgement that won the row lock:
  // it still shows our value, but the update found it cleared.
  if (pending === null || pending === pendingSince) {
    return { buildId, outcome: 'ALREADY_ACKNOWLEDGED', currentPendingSince: null };
  }
  return { buildId, outcome: 'STALE', currentPendingSince: pending };
}
