/**
 * What the journal says about its own progress, for `/metrics`: its head
 * (the highest position), how long ago its newest row was received, and how
 * long ago the recorder last confirmed it had journaled everything it heard
 * (its heartbeat), and how full Postgres's notification queue is. One statement on the query pool, by primary key and the
 * one-row recorder table: cheap enough for every scrape, and the metrics
 * cache it besides.
 */
import type { Queryable } from '../../db/queryable.js';

/** The journal's head and ages, on the database's clock. */
export interface JournalStats {
  /** The highest position, 0 when the journal is empty. */
  head: number;
  /** Seconds since the newest row (the highest position) was received; null when empty. */
  newestAgeSeconds: number | null;
  /** Seconds since the recorder's last heartbeat; null before any recorder ran. */
  heartbeatAgeSeconds: number | null;
  /** The fraction of Postgres's notification queue in use (`pg_notification_queue_usage()`). */
  notifyQueueUsage: number;
}

const seconds = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** The journal's head and ages. */
export async function journalStats(db: Queryable): Promise<JournalStats> {
  const { rows } = await db.query(
    `/* journalStats */
     SELECT newest.position AS head,
            extract(epoch FROM clock_timestamp() - newest.received_at) AS newest_age,
            (SELECT extract(epoch FROM clock_timestamp() - heartbeat_at) FROM hydra_notify_gateway.recorder) AS heartbeat_age,
            pg_notification_queue_usage() AS queue_usage
     FROM (SELECT 1) AS one
     LEFT JOIN LATERAL (
       SELECT position, received_at FROM hydra_notify_gateway.journal ORDER BY position DESC LIMIT 1
     ) AS newest ON true`,
  );
  const row = rows[0] ?? {};
  return {
    head: Number(row.head ?? 0),
    newestAgeSeconds: seconds(row.newest_age),
    heartbeatAgeSeconds: seconds(row.heartbeat_age),
    notifyQueueUsage: Number(row.queue_usage ?? 0),
  };
}
