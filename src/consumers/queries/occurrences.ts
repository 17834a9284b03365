/**
 * Adding `build_finished` occurrences to every consumer's pending set, as the
 * recorder journals them (same transaction, on its connection).
 *
 * An occurrence is (build, pendingSince): Hydra's `notificationpendingsince`
 * for that finish, or its `stoptime` when hydra-notify already cleared the
 * column (observer mode), which Hydra sets to the same value. A build named
 * by a build_finished (first id or dependent) that is not finished is skipped.
 * Existing occurrences are left alone (acknowledged ones stay acknowledged).
 */
import type { Queryable } from '../../db/queryable.js';

/** Adds the occurrences of journaled build_finished rows for every consumer. */
export async function addOccurrences(db: Queryable, items: readonly { buildId: number; position: number }[]): Promise<number> {
  if (items.length === 0) return 0;
  const { rowCount } = await db.query(
    `/* addOccurrences */
     INSERT INTO hydra_notify_gateway.occurrences (consumer, build_id, pending_since, journal_position)
     SELECT c.name, b.id, coalesce(b.notificationpendingsince, b.stoptime), t.position
     FROM unnest($1::int[], $2::bigint[]) AS t(build_id, position)
     JOIN builds b ON b.id = t.build_id AND b.finished = 1
     CROSS JOIN hydra_notify_gateway.consumers c
     WHERE coalesce(b.notificationpendingsince, b.stoptime) IS NOT NULL
     ON CONFLICT DO NOTHING`,
    [items.map((i) => i.buildId), items.map((i) => i.position)],
  );
  return rowCount ?? 0;
}
