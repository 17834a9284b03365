/**
 * Statements on webhook deliveries and their attempts (the delivery log).
 *
 * Contract: a delivery is inserted once per (webhook, message id), so
 * enqueuing the same event twice (after a crash, between the insert and the
 * cursor's advance, only the cursor's compare-and-set decides) adds nothing.
 * Which deliveries are due follows the webhook's ordering: `webhook` is the
 * oldest pending one alone (nothing overtakes it, even while it waits for a
 * retry); `build` is the oldest pending one of each build (a delivery that
 * names no build is a group of its own).
 */
import type { Queryable } from '../../db/queryable.js';

/** A delivery to insert. */
export interface NewDelivery {
  msgId: string;
  eventType: string;
  position: number | null;
  buildId: number | null;
  occurrenceSince: number | null;
  url: string;
  body: string;
}

/** A delivery as stored. */
export interface DeliveryRow extends NewDelivery {
  id: number;
  webhookId: number;
  state: 'pending' | 'delivered' | 'dead';
  attempts: number;
  nextAttemptAt: Date;
  createdAt: Date;
  deliveredAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
}

/**
 * A delivery due now, with what its request is made with as its webhook holds
 * it at this read (a rotated secret signs every delivery read after the
 * rotation, whatever the worker has cached).
 */
export interface DueDelivery extends DeliveryRow {
  secrets: string[];
  options: Record<string, unknown>;
}

/** An attempt of a delivery, as the log keeps it. */
export interface AttemptRow {
  deliveryId: number;
  attempt: number;
  instance: string;
  startedAt: Date;
  status: number | null;
  latencyMs: number;
  error: string | null;
  responseBody: string | null;
}

const COLUMNS = `d.id, d.webhook_id, d.msg_id, d.event_type, d.position, d.build_id, d.occurrence_since, d.url, d.body, d.state,
  d.attempts, d.next_attempt_at, d.created_at, d.delivered_at, d.last_status, d.last_error`;

const DUE_COLUMNS = `${COLUMNS}, w.secrets AS webhook_secrets, w.options AS webhook_options`;

function toDue(r: Record<string, unknown>): DueDelivery {
  return {
    ...toDelivery(r),
    secrets: (r.webhook_secrets as string[]) ?? [],
    options: (r.webhook_options as Record<string, unknown>) ?? {},
  };
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function toDelivery(r: Record<string, unknown>): DeliveryRow {
  return {
    id: Number(r.id),
    webhookId: Number(r.webhook_id),
    msgId: String(r.msg_id),
    eventType: String(r.event_type),
    position: num(r.position),
    buildId: num(r.build_id),
    occurrenceSince: num(r.occurrence_since),
    url: String(r.url),
    body: String(r.body),
    state: r.state as DeliveryRow['state'],
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at as Date,
    createdAt: r.created_at as Date,
    deliveredAt: (r.delivered_at as Date | null) ?? null,
    lastStatus: num(r.last_status),
    lastError: (r.last_error as string | null) ?? null,
  };
}

/** Inserts deliveries of a webhook, in order; those it has already are left alone. Returns how many were new. */
export async function insertDeliveries(db: Queryable, webhookId: number, items: readonly NewDelivery[]): Promise<number> {
  if (items.length === 0) return 0;
  const { rowCount } = await db.query(
    `/* insertDeliveries */ INSERT INTO hydra_notify_gateway.webhook_deliveries
       (webhook_id, msg_id, event_type, position, build_id, occurrence_since, url, body)
     SELECT $1, t.msg_id, t.event_type, t.position, t.build_id, t.since, t.url, t.body
     FROM unnest($2::text[], $3::text[], $4::bigint[], $5::int[], $6::int[], $7::text[], $8::text[])
          WITH ORDINALITY AS t(msg_id, event_type, position, build_id, since, url, body, ord)
     ORDER BY t.ord
     ON CONFLICT DO NOTHING`,
    [
      webhookId,
      items.map((i) => i.msgId),
      items.map((i) => i.eventType),
      items.map((i) => i.position),
      items.map((i) => i.buildId),
      items.map((i) => i.occurrenceSince),
      items.map((i) => i.url),
      items.map((i) => i.body),
    ],
  );
  return rowCount ?? 0;
}

/**
 * For `build` ordering: up to `limit` deliveries of the webhook due now, the
 * oldest pending one of each build (and each delivery without a build),
 * skipping `busy` (in flight on this instance). `webhook` ordering reads
 * `dueInOrder`.
 */
export async function dueDeliveries(db: Queryable, webhookId: number, busy: readonly number[], limit: number): Promise<DueDelivery[]> {
  if (limit <= 0) return [];
  const { rows } = await db.query(
    `/* dueDeliveries */ SELECT ${DUE_COLUMNS} FROM (
       SELECT DISTINCT ON (coalesce(build_id::bigint, -id)) * FROM hydra_notify_gateway.webhook_deliveries
       WHERE webhook_id = $1 AND state = 'pending' ORDER BY coalesce(build_id::bigint, -id), id
     ) d JOIN hydra_notify_gateway.webhooks w ON w.id = d.webhook_id
     WHERE d.next_attempt_at <= clock_timestamp() AND NOT (d.id = ANY($2::bigint[]))
     ORDER BY d.id LIMIT $3`,
    [webhookId, busy, limit],
  );
  return rows.map(toDue);
}

/**
 * For `webhook` ordering: up to `limit` of the oldest pending deliveries, in
 * order, as far as they are due now (a delivery waiting for its retry, and
 * everything after it, waits).
 */
export async function dueInOrder(db: Queryable, webhookId: number, limit: number): Promise<DueDelivery[]> {
  const { rows } = await db.query(
    `/* dueInOrder */ SELECT ${DUE_COLUMNS} FROM (
       SELECT p.*, bool_and(p.next_attempt_at <= clock_timestamp()) OVER (ORDER BY p.id) AS due
       FROM (SELECT * FROM hydra_notify_gateway.webhook_deliveries WHERE webhook_id = $1 AND state = 'pending' ORDER BY id LIMIT $2) p
     ) d JOIN hydra_notify_gateway.webhooks w ON w.id = d.webhook_id WHERE d.due ORDER BY d.id`,
    [webhookId, limit],
  );
  return rows.map(toDue);
}

/**
 * Logs an attempt, settles the delivery (delivered, retried at `retryAt`, or
 * dead) and the webhook's health in one statement: a webhook is failing
 * since its first failed attempt after a success. Returns since when it is
 * failing (null: it is not).
 */
export async function recordAttempt(
  db: Queryable,
  delivery: { id: number; webhookId: number },
  attempt: Omit<AttemptRow, 'deliveryId'>,
  outcome: { kind: 'delivered' } | { kind: 'retry'; at: Date } | { kind: 'dead' },
): Promise<Date | null> {
  const { rows } = await db.query(
    `/* recordAttempt */ WITH logged AS (
       INSERT INTO hydra_notify_gateway.webhook_attempts
         (delivery_id, webhook_id, attempt, instance, started_at, status, latency_ms, error, response_body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ), settled AS (
       UPDATE hydra_notify_gateway.webhook_deliveries SET
         attempts = $3,
         state = $10,
         next_attempt_at = coalesce($11, next_attempt_at),
         delivered_at = CASE WHEN $10 = 'delivered' THEN now() END,
         last_status = $6,
         last_error = $8
       WHERE id = $1
     )
     UPDATE hydra_notify_gateway.webhooks
     SET failing_since = CASE WHEN $12 THEN NULL ELSE coalesce(failing_since, now()) END
     WHERE id = $2 RETURNING failing_since`,
    [
      delivery.id,
      delivery.webhookId,
      attempt.attempt,
      attempt.instance,
      attempt.startedAt,
      attempt.status,
      attempt.latencyMs,
      attempt.error,
      attempt.responseBody,
      outcome.kind === 'retry' ? 'pending' : outcome.kind,
      outcome.kind === 'retry' ? outcome.at : null,
      outcome.kind === 'delivered',
    ],
  );
  return (rows[0]?.failing_since as Date | null) ?? null;
}

/** Makes a delivery pending again, due now (its attempts go on counting); the row and its webhook's name, or null. */
export async function resetDelivery(db: Queryable, id: number): Promise<{ delivery: DeliveryRow; webhook: string } | null> {
  const { rows } = await db.query(
    `/* resetDelivery */ UPDATE hydra_notify_gateway.webhook_deliveries d SET state = 'pending', next_attempt_at = now()
     FROM hydra_notify_gateway.webhooks w WHERE d.id = $1 AND w.id = d.webhook_id RETURNING ${COLUMNS}, w.name AS webhook_name`,
    [id],
  );
  return rows[0] ? { delivery: toDelivery(rows[0]), webhook: rows[0].webhook_name as string } : null;
}

/** A page of a webhook's deliveries, newest first, before id `before`; `limit + 1` rows. */
export async function deliveriesPage(
  db: Queryable,
  webhookId: number,
  options: { before: number | null; limit: number; state: DeliveryRow['state'] | null },
): Promise<DeliveryRow[]> {
  const { rows } = await db.query(
    `/* deliveriesPage */ SELECT ${COLUMNS} FROM hydra_notify_gateway.webhook_deliveries d
     WHERE d.webhook_id = $1 AND ($2::bigint IS NULL OR d.id < $2) AND ($3::text IS NULL OR d.state = $3)
     ORDER BY d.id DESC LIMIT $4`,
    [webhookId, options.before, options.state, options.limit + 1],
  );
  return rows.map(toDelivery);
}

/** The attempts of deliveries, by delivery, oldest first. */
export async function attemptsOf(db: Queryable, deliveryIds: readonly number[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  const { rows } = await db.query(
    `/* deliveryAttempts */ SELECT delivery_id, attempt, instance, started_at, status, latency_ms, error, response_body
     FROM hydra_notify_gateway.webhook_attempts WHERE delivery_id = ANY($1::bigint[]) ORDER BY delivery_id, attempt, id`,
    [deliveryIds],
  );
  return rows.map((r: Record<string, unknown>) => ({
    deliveryId: Number(r.delivery_id),
    attempt: Number(r.attempt),
    instance: String(r.instance),
    startedAt: r.started_at as Date,
    status: num(r.status),
    latencyMs: Number(r.latency_ms),
    error: (r.error as string | null) ?? null,
    responseBody: (r.response_body as string | null) ?? null,
  }));
}

/** Deletes up to `batch` settled deliveries (and their attempts) created before `cutoff`; returns how many. */
export async function pruneDeliveriesBatch(db: Queryable, cutoff: Date, batch: number): Promise<number> {
  const { rowCount } = await db.query(
    `/* pruneDeliveriesBatch */ DELETE FROM hydra_notify_gateway.webhook_deliveries WHERE id IN (
       SELECT id FROM hydra_notify_gateway.webhook_deliveries WHERE state <> 'pending' AND created_at < $1 LIMIT $2)`,
    [cutoff, batch],
  );
  return rowCount ?? 0;
}

/** How many deliveries of the webhook are pending. */
export async function pendingCount(db: Queryable, webhookId: number): Promise<number> {
  const { rows } = await db.query(
    `/* pendingDeliveries */ SELECT count(*)::int AS n FROM hydra_notify_gateway.webhook_deliveries WHERE webhook_id = $1 AND state = 'pending'`,
    [webhookId],
  );
  return Number(rows[0].n);
}
