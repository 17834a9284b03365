/**
 * The pending `build_finished` backlog: builds whose
 * `notificationpendingsince` is set, oldest first; and the build filter that
 * every statement filtering builds shares.
 *
 * Contract: keyset pagination on (notificationpendingsince, id), so a page is
 * stable while builds are acknowledged or added around it, and the scan runs
 * on Hydra's partial index `builds(notificationpendingsince) where
 * notificationpendingsince is not null`. Read-only. `limit + 1` rows are
 * fetched so the caller knows whether another page follows. The page comes
 * back as one `json` value (Postgres aggregates the rows, pg's JSON.parse reads
 * them): a page of rows as columns cost the gateway a text decode and a
 * parser call per value, about a third of its CPU per page (see
 * docs/performance.md); the rows' keys and values are the columns' as
 * `toBuild` reads them (integers and bigints as JSON numbers, exact below
 * 2^53 as `Number` made them).
 */
import type { Queryable } from '../../db/queryable.js';
import { Params } from '../../db/sql.js';
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
 * The SQL conditions of `filter` on `builds b` joined with `jobsets j`, its
 * values added to `p`. Every criterion is a placeholder, set or null, so one
 * statement text (and plan) serves every combination.
 */
export function buildFilterSql(p: Params, filter: BuildFilter): string {
  const project = p.add(filter.project ?? null, 'text');
  const jobset = p.add(filter.jobset ?? null, 'text');
  const job = p.add(filter.job ?? null, 'text');
  const id = p.add(filter.buildId ?? null, 'int');
  const system = p.add(filter.system ?? null, 'text');
  return `(${project} IS NULL OR j.project = ${project}) AND (${jobset} IS NULL OR j.name = ${jobset})
     AND (${job} IS NULL OR b.job = ${job}) AND (${id} IS NULL OR b.id = ${id})
     AND (${system} IS NULL OR b.system = ${system})`;
}

/** Where a page starts: strictly after this (pendingSince, id). */
export interface PendingPosition {
  since: number;
  id: number;
}

/** What a page of the backlog asks for. */
export interface PendingQuery {
  after: PendingPosition | null;
  limit: number;
  filter: BuildFilter;
}

/** The statement of `pendingBuilds` (exported so that tests can EXPLAIN it). */
export function pendingBuildsStatement({ after, limit, filter }: PendingQuery): { text: string; values: unknown[] } {
  const p = new Params();
  const since = p.add(after?.since ?? null, 'int');
  const id = p.add(after?.id ?? null, 'int');
  const text = `/* pendingBuilds */ SELECT coalesce(json_agg(page ORDER BY page.notificationpendingsince, page.id), '[]') AS rows
   FROM (SELECT ${BUILD_COLUMNS}
     FROM builds b JOIN jobsets j ON j.id = b.jobset_id
     WHERE b.notificationpendingsince IS NOT NULL
       AND (${since} IS NULL OR (b.notificationpendingsince, b.id) > (${since}, ${id}))
       AND ${buildFilterSql(p, filter)}
     ORDER BY b.notificationpendingsince, b.id
     LIMIT ${p.add(limit + 1, 'int')}) page`;
  return { text, values: p.values };
}

/** Up to `limit + 1` pending builds after `after`, oldest first. */
export async function pendingBuilds(db: Queryable, query: PendingQuery): Promise<Build[]> {
  const { text, values } = pendingBuildsStatement(query);
  const { rows } = await db.query(text, values);
  return (rows[0].rows as Record<string, unknown>[]).map(toBuild);
}
