/**
 * Statements on `hydra_notify_gateway.webhooks`: what a webhook is, who
 * delivers it (the lease) and how far it has read the journal (the cursor).
 * The cursor only moves forward by compare-and-set from the position it was
 * read at, and only for the instance holding the lease.
 */
import type { Queryable } from '../../db/queryable.js';

/** A webhook as stored, with what its deliveries say of it. */
export interface WebhookRow {
  id: number;
  name: string;
  kind: 'http' | 'commit-status';
  url: string;
  document: string;
  variables: Record<string, unknown>;
  secrets: string[];
  ordering: 'webhook' | 'build';
  concurrency: number;
  consumer: string | null;
  options: Record<string, unknown>;
  state: 'active' | 'disabled';
  disabledReason: string | null;
  disabledAt: Date | null;
  failingSince: Date | null;
  cursor: number;
  generation: number;
  createdAt: Date;
  leaseOwner: string | null;
  leaseUntil: Date | null;
}

/** What `listWebhooks` adds: the backlog and the last attempt. */
export interface WebhookSummary extends WebhookRow {
  pending: number;
  dead: number;
  oldestPendingAt: Date | null;
  lastAttempt: { at: Date; status: number | null; error: string | null } | null;
}

const COLUMNS = `w.id, w.name, w.kind, w.url, w.document, w.variables, w.secrets, w.ordering, w.concurrency, w.consumer,
  w.options, w.state, w.disabled_reason, w.disabled_at, w.failing_since, w.cursor, w.generation, w.created_at,
  w.lease_owner, w.lease_until`;

function toWebhook(r: Record<string, unknown>): WebhookRow {
  return {
    id: Number(r.id),
    name: String(r.name),
    kind: r.kind as WebhookRow['kind'],
    url: String(r.url),
    document: String(r.document),
    variables: (r.variables as Record<string, unknown>) ?? {},
    secrets: (r.secrets as string[]) ?? [],
    ordering: r.ordering as WebhookRow['ordering'],
    concurrency: Number(r.concurrency),
    consumer: (r.consumer as string | null) ?? null,
    options: (r.options as Record<string, unknown>) ?? {},
    state: r.state as WebhookRow['state'],
    disabledReason: (r.disabled_reason as string | null) ?? null,
    disabledAt: (r.disabled_at as Date | null) ?? null,
    failingSince: (r.failing_since as Date | null) ?? null,
    cursor: Number(r.cursor),
    generation: Number(r.generation),
    createdAt: r.created_at as Date,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseUntil: (r.lease_until as Date | null) ?? null,
  };
}

/** A new webhook's fields. */
export interface NewWebhook {
  name: string;
  kind: WebhookRow['kind'];
  url: string;
  document: string;
  variables: Record<string, unknown>;
  secrets: string[];
  ordering: WebhookRow['ordering'];
  concurrency: number;
  consumer: string | null;
  options: Record<string, unknown>;
}

/** Inserts a webhook reading the journal from its end; null when the name is taken. */
export async function insertWebhook(db: Queryable, webhook: NewWebhook): Promise<WebhookRow | null> {
  const { rows } = await db.query(
    `/* insertWebhook */ INSERT INTO hydra_notify_gateway.webhooks AS w
       (name, kind, url, document, variables, secrets, ordering, concurrency, consumer, options, cursor)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
       (SELECT coalesce(max(position), 0) FROM hydra_notify_gateway.journal))
     ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
    [
      webhook.name,
      webhook.kind,
      webhook.url,
      webhook.document,
      JSON.stringify(webhook.variables),
      webhook.secrets,
      webhook.ordering,
      webhook.concurrency,
      webhook.consumer,
      JSON.stringify(webhook.options),
    ],
  );
  return rows[0] ? toWebhook(rows[0]) : null;
}

/** Every webhook (or the one named), by name, with its backlog and last attempt. */
export async function listWebhooks(db: Queryable, name: string | null = null): Promise<WebhookSummary[]> {
  const { rows } = await db.query(
    `/* listWebhooks */ SELECT ${COLUMNS},
       (SELECT count(*) FROM hydra_notify_gateway.webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending')::int AS pending,
       (SELECT count(*) FROM hydra_notify_gateway.webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'dead')::int AS dead,
       (SELECT min(d.created_at) FROM hydra_notify_gateway.webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending') AS oldest,
       a.started_at AS last_at, a.status AS last_status, a.error AS last_error
     FROM hydra_notify_gateway.webhooks w
     LEFT JOIN LATERAL (
       SELECT started_at, status, error FROM hydra_notify_gateway.webhook_attempts x WHERE x.webhook_id = w.id ORDER BY x.id DESC LIMIT 1
     ) a ON true
     WHERE $1::text IS NULL OR w.name = $1
     ORDER BY w.name`,
    [name],
  );
  return rows.map((r: Record<string, unknown>) => ({
    ...toWebhook(r),
    pending: Number(r.pending),
    dead: Number(r.dead),
    oldestPendingAt: (r.oldest as Date | null) ?? null,
    lastAttempt: r.last_at
      ? {
          at: r.last_at as Date,
          status: r.last_status === null ? null : Number(r.last_status),
          error: (r.last_error as string | null) ?? null,
        }
      : null,
  }));
}

/** Removes a webhook and its deliveries; false when there was none. */
export async function deleteWebhook(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query('/* deleteWebhook */ DELETE FROM hydra_notify_gateway.webhooks WHERE name = $1', [name]);
  return rowCount === 1;
}

/** Enables or disables a webhook (with the reason shown; disabling ends its lease); the row, or null when there is none. */
export async function setWebhookState(
  db: Queryable,
  name: string,
  state: WebhookRow['state'],
  reason: string | null,
): Promise<WebhookRow | null> {
  const { rows } = await db.query(
    `/* setWebhookState */ UPDATE hydra_notify_gateway.webhooks w
     SET state = $2, disabled_reason = $3, disabled_at = CASE WHEN $2 = 'disabled' THEN now() END,
         failing_since = CASE WHEN $2 = 'active' THEN NULL ELSE failing_since END,
         lease_owner = CASE WHEN $2 = 'disabled' THEN NULL ELSE lease_owner END,
         lease_until = CASE WHEN $2 = 'disabled' THEN NULL ELSE lease_until END
     WHERE name = $1 RETURNING ${COLUMNS}`,
    [name, state, reason],
  );
  return rows[0] ? toWebhook(rows[0]) : null;
}

/** Adds a secret (it signs from now on, beside the others); keeps the newest `keep`. */
export async function addSecret(db: Queryable, name: string, secret: string, keep: number): Promise<WebhookRow | null> {
  const { rows } = await db.query(
    `/* addWebhookSecret */ UPDATE hydra_notify_gateway.webhooks w SET secrets = (array_prepend($2::text, secrets))[1:$3]
     WHERE name = $1 RETURNING ${COLUMNS}`,
    [name, secret, keep],
  );
  return rows[0] ? toWebhook(rows[0]) : null;
}

/**
 * Leases every active webhook whose lease is free, expired or already this
 * instance's, until `leaseMs` from now (the database's clock); returns them.
 */
export async function leaseWebhooks(db: Queryable, instance: string, leaseMs: number): Promise<WebhookRow[]> {
  const { rows } = await db.query(
    `/* leaseWebhooks */ UPDATE hydra_notify_gateway.webhooks w
     SET lease_owner = $1, lease_until = clock_timestamp() + $2 * interval '1 millisecond'
     WHERE w.state = 'active' AND (w.lease_owner = $1 OR w.lease_owner IS NULL OR w.lease_until < clock_timestamp())
     RETURNING ${COLUMNS}`,
    [instance, leaseMs],
  );
  return rows.map(toWebhook);
}

/** Gives up this instance's leases (shutdown). */
export async function releaseWebhooks(db: Queryable, instance: string): Promise<void> {
  await db.query(
    '/* releaseWebhooks */ UPDATE hydra_notify_gateway.webhooks SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1',
    [instance],
  );
}

/** Moves the cursor from `from` to `to`, if it still is at `from` and the lease is still `instance`'s. */
export async function advanceCursor(db: Queryable, id: number, from: number, to: number, instance: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `/* advanceWebhookCursor */ UPDATE hydra_notify_gateway.webhooks SET cursor = $3
     WHERE id = $1 AND cursor = $2 AND lease_owner = $4 AND lease_until > clock_timestamp()`,
    [id, from, to, instance],
  );
  return rowCount === 1;
}

/** Moves the cursor back to `position` for a re-delivery, with a new generation of message ids. */
export async function rewindCursor(db: Queryable, name: string, position: number): Promise<WebhookRow | null> {
  const { rows } = await db.query(
    `/* rewindWebhookCursor */ UPDATE hydra_notify_gateway.webhooks w SET cursor = $2, generation = generation + 1
     WHERE name = $1 RETURNING ${COLUMNS}`,
    [name, position],
  );
  return rows[0] ? toWebhook(rows[0]) : null;
}
