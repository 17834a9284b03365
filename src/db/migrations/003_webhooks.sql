-- Webhooks: durable subscriptions delivered to HTTP endpoints, with the state
-- of every delivery and the log of every attempt, so that a restart, a crash
-- mid-request or a second instance never loses an event.
create table hydra_notify_gateway.webhooks (
    id              bigserial primary key,
    name            text not null unique check (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    -- 'http': the document's data POSTed to url, signed (Standard Webhooks);
    -- 'commit-status': commit statuses set on a forge's API (url is its base URL).
    kind            text not null check (kind in ('http', 'commit-status')),
    url             text not null,
    -- http: the subscription document and its variables (what the body holds).
    document        text not null,
    variables       jsonb not null default '{}',
    -- Standard Webhooks secrets (whsec_…), newest first: every one signs, so a
    -- receiver can rotate without a gap.
    secrets         text[] not null default '{}',
    -- 'webhook': one delivery at a time, in journal order; 'build': in order per
    -- build, up to `concurrency` builds at once.
    ordering        text not null default 'webhook' check (ordering in ('webhook', 'build')),
    concurrency     integer not null default 4 check (concurrency between 1 and 64),
    -- buildFinished bound to a consumer: each occurrence is acknowledged by the 2xx.
    consumer        text references hydra_notify_gateway.consumers (name) on delete restrict,
    -- commit-status: provider, token, jobs, inputs, context, description, hydra URL.
    options         jsonb not null default '{}',
    state           text not null default 'active' check (state in ('active', 'disabled')),
    disabled_reason text,
    disabled_at     timestamptz,
    -- Since when every attempt failed (null: the last one succeeded).
    failing_since   timestamptz,
    -- The journal position enqueued through; `generation` counts re-deliveries
    -- from an earlier cursor, so their message ids differ.
    cursor          bigint not null,
    generation      integer not null default 0,
    created_at      timestamptz not null default now(),
    -- The one instance delivering it, until when (renewed while it lives).
    lease_owner     text,
    lease_until     timestamptz
);

create table hydra_notify_gateway.webhook_deliveries (
    id               bigserial primary key,
    webhook_id       bigint not null references hydra_notify_gateway.webhooks (id) on delete cascade,
    -- The webhook-id header: the same on every attempt, the receiver's idempotency key.
    msg_id           text not null,
    event_type       text not null,
    position         bigint,
    build_id         integer,
    -- Consumer-bound: the occurrence (build_id, occurrence_since) the 2xx acknowledges.
    occurrence_since integer,
    url              text not null,
    body             text not null,
    state            text not null default 'pending' check (state in ('pending', 'delivered', 'dead')),
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    created_at       timestamptz not null default now(),
    delivered_at     timestamptz,
    last_status      integer,
    last_error       text,
    unique (webhook_id, msg_id)
);
create index webhook_deliveries_pending on hydra_notify_gateway.webhook_deliveries (webhook_id, id) where state = 'pending';
create index webhook_deliveries_settled on hydra_notify_gateway.webhook_deliveries (created_at) where state <> 'pending';
create unique index webhook_deliveries_occurrence on hydra_notify_gateway.webhook_deliveries (webhook_id, build_id, occurrence_since)
    where occurrence_since is not null;

-- The delivery log: every attempt, with what came back.
create table hydra_notify_gateway.webhook_attempts (
    id            bigserial primary key,
    delivery_id   bigint not null references hydra_notify_gateway.webhook_deliveries (id) on delete cascade,
    webhook_id    bigint not null,
    attempt       integer not null,
    instance      text not null,
    started_at    timestamptz not null,
    status        integer,
    latency_ms    integer not null,
    error         text,
    -- The first 4 KiB of the response body.
    response_body text
);
create index webhook_attempts_delivery on hydra_notify_gateway.webhook_attempts (delivery_id, attempt);
create index webhook_attempts_webhook on hydra_notify_gateway.webhook_attempts (webhook_id, id);
