/**
 * A consumer's pending set as a page: its unacknowledged occurrences, oldest
 * first by (pendingSince, build id), with the same keyset positions as Hydra's
 * pending backlog, filtered like it.
 */
import type { Queryable } from '../../db/queryable.js';
import { Params } from '../../db/sql.js';
import { BUILD_COLUMNS } from '../../hydra/queries/rowsById.js';
import { buildFilterSql, type PendingQuery } from '../../hydra/queries/pendingBuilds.js';
import { type Build, toBuild } from '../../hydra/rows.js';

/** One unacknowledged occurrence of a consumer, with its build. */
export interface PendingOccurrence {
  build: Build;
  /** Unix seconds. */
  pendingSince: number;
  deliveries: number;
}

/** Up to `limit + 1` pending occurrences of `consumer` after `after`, with their builds. */
export async function consumerPending(
  db: Queryable,
  consumer: string,
  { after, limit, filter }: PendingQuery,
): Promise<PendingOccurrence[]> {
  const p = new Params();
  const name = p.add(consumer);
  const since = p.add(after?.since ?? null, 'int');
  const id = p.add(after?.id ?? null, 'int');
  const { rows } = await db.query(
    `/* consumerPending */ SELECT ${BUILD_COLUMNS}, o.pending_since AS occurrence_since, o.deliveries
     FROM hydra_notify_gateway.occurrences o
     JOIN builds b ON b.id = o.build_id JOIN jobsets j ON j.id = b.jobset_id
     WHERE o.consumer = ${name} AND o.acknowledged_at IS NULL
       AND (${since} IS NULL OR (o.pending_since, o.build_id) > (${since}, ${id}))
       AND ${buildFilterSql(p, filter)}
     ORDER BY o.pending_since, o.build_id
     LIMIT ${p.add(limit + 1, 'int')}`,
    p.values,
  );
  return rows.map((r: Record<string, unknown>) => ({
    build: toBuild(r),
    pendingSince: Number(r.occurrence_since),
    deliveries: Number(r.deliveries),
  }));
}
