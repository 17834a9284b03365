/**
 * A consumer's pending set as a page: its unacknowledged occurrences, oldest
 * first by (pendingSince, build id), with the same keyset cursors as Hydra's
 * pending backlog, filtered like it.
 */
import type { Queryable } from '../../db/queryable.js';
import { BUILD_COLUMNS } from '../../hydra/queries/rowsById.js';
import { type BuildFilter, buildFilterSql, buildFilterValues, type PendingPosition } from '../../hydra/queries/pendingBuilds.js';
import { type Build, toBuild } from '../../hydra/rows.js';

/** Up to `limit + 1` pending occurrences of `consumer` after `after`, with their builds. */
export async function consumerPending(
  db: Queryable,
  options: { consumer: string; after: PendingPosition | null; limit: number; filter: BuildFilter },
): Promise<{ build: Build; pendingSince: number; deliveries: number }[]> {
  const { consumer, after, limit, filter } = options;
  const { rows } = await db.query(
    `/* consumerPending */ SELECT ${BUILD_COLUMNS}, o.pending_since AS occurrence_since, o.deliveries
     FROM hydra_notify_gateway.occurrences o
     JOIN builds b ON b.id = o.build_id JOIN jobsets j ON j.id = b.jobset_id
     WHERE o.consumer = $1 AND o.acknowledged_at IS NULL
       AND ($2::int IS NULL OR (o.pending_since, o.build_id) > ($2::int, $3::int))
       AND ${buildFilterSql(4)}
     ORDER BY o.pending_since, o.build_id
     LIMIT $9`,
    [consumer, after?.since ?? null, after?.id ?? null, ...buildFilterValues(filter), limit + 1],
  );
  return rows.map((r: Record<string, unknown>) => ({
    build: toBuild(r),
    pendingSince: Number(r.occurrence_since),
    deliveries: Number(r.deliveries),
  }));
}
