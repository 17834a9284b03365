/**
 * Every consumer's backlog in one statement, for `/metrics`: how many
 * occurrences it has not acknowledged, and how long ago the oldest of them
 * finished (its `pendingSince`, on the database's clock). Each consumer's
 * count is an index-only scan of the partial index of unacknowledged
 * occurrences (`occurrences_pending`), so it costs what the backlogs hold,
 * not what the table holds (27 ms for 300,000 pending among 3,000,000
 * acknowledged; a join and GROUP BY took 103 ms); the metrics cache the
 * answer for a few seconds, so scrapes cannot hammer the database.
 */
import type { Queryable } from '../../db/queryable.js';

/** One consumer's backlog. */
export interface ConsumerBacklog {
  consumer: string;
  paused: boolean;
  /** Occurrences not acknowledged yet. */
  pending: number;
  /** Seconds since the oldest of them finished; null when none is pending. */
  oldestPendingAgeSeconds: number | null;
}

/** The backlog of every consumer, by name. */
export async function consumerBacklogs(db: Queryable): Promise<ConsumerBacklog[]> {
  const { rows } = await db.query(
    `/* consumerBacklogs */
     SELECT c.name, c.paused, p.pending, extract(epoch FROM clock_timestamp()) - p.oldest AS oldest_age
     FROM hydra_notify_gateway.consumers c
     -- Per consumer, so each count is an index-only scan of occurrences_pending.
     CROSS JOIN LATERAL (
       SELECT count(*) AS pending, min(o.pending_since) AS oldest
       FROM hydra_notify_gateway.occurrences o
       WHERE o.consumer = c.name AND o.acknowledged_at IS NULL
     ) AS p
     ORDER BY c.name`,
  );
  return rows.map((r: Record<string, unknown>) => ({
    consumer: String(r.name),
    paused: r.paused === true,
    pending: Number(r.pending),
    oldestPendingAgeSeconds: r.oldest_age === null ? null : Math.max(0, Number(r.oldest_age)),
  }));
}
