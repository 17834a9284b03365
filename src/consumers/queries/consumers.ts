/**
 * Consumers: named, durable readers of build_finished
 * (`hydra_notify_gateway.consumers`). Names are lower-case words
 * (`^[a-z0-9][a-z0-9._-]{0,62}$`, checked by the table too).
 */
import type { Queryable } from '../../db/queryable.js';

/** A consumer with its backlog. */
export interface ConsumerRow {
  name: string;
  createdAt: Date;
  paused: boolean;
  pending: number;
  oldestPendingSince: number | null;
}

const SELECT = `SELECT c.name, c.created_at, c.paused,
    (SELECT count(*) FROM hydra_notify_gateway.occurrences o WHERE o.consumer = c.name AND o.acknowledged_at IS NULL)::int AS pending,
    (SELECT min(o.pending_since) FROM hydra_notify_gateway.occurrences o WHERE o.consumer = c.name AND o.acknowledged_at IS NULL) AS oldest
  FROM hydra_notify_gateway.consumers c`;

function toConsumer(r: Record<string, unknown>): ConsumerRow {
  return {
    name: String(r.name),
    createdAt: r.created_at as Date,
    paused: Boolean(r.paused),
    pending: Number(r.pending),
    oldestPendingSince: r.oldest === null ? null : Number(r.oldest),
  };
}

/** Every consumer, by name. */
export async function listConsumers(db: Queryable): Promise<ConsumerRow[]> {
  const { rows } = await db.query(`/* listConsumers */ ${SELECT} ORDER BY c.name`);
  return rows.map(toConsumer);
}

/** One consumer, or null. */
export async function getConsumer(db: Queryable, name: string): Promise<ConsumerRow | null> {
  const { rows } = await db.query(`/* getConsumer */ ${SELECT} WHERE c.name = $1`, [name]);
  return rows[0] ? toConsumer(rows[0]) : null;
}

/** Creates a consumer; false when the name is taken. */
export async function insertConsumer(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query(
    '/* insertConsumer */ INSERT INTO hydra_notify_gateway.consumers (name) VALUES ($1) ON CONFLICT DO NOTHING',
    [name],
  );
  return rowCount === 1;
}

/** Pauses or resumes a consumer; false when there is none. */
export async function setPaused(db: Queryable, name: string, paused: boolean): Promise<boolean> {
  const { rowCount } = await db.query('/* setConsumerPaused */ UPDATE hydra_notify_gateway.consumers SET paused = $2 WHERE name = $1', [
    name,
    paused,
  ]);
  return rowCount === 1;
}

/** Removes a consumer and its occurrences; false when there was none. */
export async function deleteConsumer(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query('/* deleteConsumer */ DELETE FROM hydra_notify_gateway.consumers WHERE name = $1', [name]);
  return rowCount === 1;
}
