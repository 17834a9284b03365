/**
 * The pending `build_finished` backlog: builds whose
 * `notificationpendingsince` is set, oldest first.
 *
 * Contract: keyset pagination on (notificationpendingsince, id), so a page is
 * stable while builds are acknowledged or added around it, and the scan runs
 * on Hydra's partial index `builds(notificationpendingsince) where
 * notificationpendingsince is not null`. Read-only. `limit + 1` rows are
 * fetched so the caller knows whether another page follows.
 */
import type { Queryable } from '../../db/queryable.js';
import { type Build, toBuild } from '../rows.js';
import { BUILD_COLUMNS } from './rowsById.js';

/** Row filters, all optional and ANDed. */
export interface BuildFilter {
  project?: string | null;
  jobset?: string | null;
  job?: string | null;
  buildId?: number | null;
  system?: string | null;
}

/**
 * The SQL conditions of a `BuildFilter` on `builds b` joined with `jobsets j`,
 * with placeholders `$first` to `$first+4` taking `buildFilterValues(filter)`.
 */
export function buildFilterSql(first: number): string {
  const [project, jobset, job, id, system] = [0, 1, 2, 3, 4].map((i) => `$${first + i}`);
  return `(${project}::text IS NULL OR j.project = ${project}) AND (${jobset}::text IS NULL OR j.name = ${jobset})
     AND (${job}::text IS NULL OR b.job = ${job}) AND (${id}::int IS NULL OR b.id = ${id})
     AND (${system}::text IS NULL OR b.system = ${system})`;
}

/** The placeholder values of `buildFilterSql`, in order. */
export function buildFilterValues(filter: BuildFilter): (string | number | null)[] {
  return [filter.project ?? null, filter.jobset ?? null, filter.job ?? null, filter.buildId ?? null, filter.system ?? null];
}

/** Where a page starts: strictly after this (pendingSince, id). */
export interface PendingPosition {
  since: number;
  id: number;
}

/**
 * The statement of `pendingBuilds`; parameters: after.since, after.id,
 * project, jobset, job, buildId, system, limit + 1. Exported so tests can
 * EXPLAIN it.
 */
export const PENDING_BUILDS_SQL = `/* pendingBuilds */ SELECT ${BUILD_COLUMNS}
   FROM builds b JOIN jobsets j ON j.id = b.jobset_id
   WHERE b.notificationpendingsince IS NOT NULL
     AND ($1::int IS NULL OR (b.notificationpendingsince, b.id) > ($1::int, $2::int))
     AND ${buildFilterSql(3)}
   ORDER BY b.notificationpendingsince, b.id
   LIMIT $8`;

/** Up to `limit + 1` pending builds after `after`, oldest first. */
export async function pendingBuilds(
  db: Queryable,
  options: { after: PendingPosition | null; limit: number; filter: BuildFilter },
): Promise<Build[]> {
  const { after, limit, filter } = options;
  const { rows } = await db.query(PENDING_BUILDS_SQL, [after?.since ?? null, after?.id ?? null, ...buildFilterValues(filter), limit + 1]);
  return rows.map(toBuild);
}
