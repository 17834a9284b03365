-- The gateway's own tables, in a schema of its own: never in Hydra's.
create schema if not exists hydra_notify_gateway;

-- Every notification the gateway received, once, in the order Postgres
-- delivered it (commit order): `position` is assigned by the single recorder.
create table hydra_notify_gateway.journal (
    position     bigserial primary key,
    -- 'notification': as received; 'recovered': a pending build_finished read
    -- from Hydra's builds table after a gap; 'gap': a window nobody listened.
    kind         text not null check (kind in ('notification', 'recovered', 'gap')),
    channel      text not null,
    payload      text not null,
    received_at  timestamptz not null,
    -- build_finished: the build it names first, when the payload is well-formed.
    build_id     integer,
    -- build_finished: the finish it announces (notificationpendingsince, or
    -- stoptime once cleared), read when journaled.
    pending_since integer,
    -- gap: the window no instance listened.
    gap_from     timestamptz,
    gap_to       timestamptz,
    -- Where the notification stood in the stream every listener sees: the
    -- last mark notification before it, and how many notifications followed
    -- that mark before it. Lets another instance take over without loss or
    -- duplicates.
    mark         text,
    mark_offset  integer,
    recorded_by  text not null,
    check ((kind = 'gap') = (gap_from is not null and gap_to is not null))
);
create index journal_received_at on hydra_notify_gateway.journal (received_at);
create index journal_build_finished on hydra_notify_gateway.journal (build_id, received_at)
    where channel = 'build_finished';

-- One row: who records, and what has been pruned.
create table hydra_notify_gateway.recorder (
    id             integer primary key default 1 check (id = 1),
    instance       text,
    heartbeat_at   timestamptz,
    -- Everything at or below this position was pruned by retention.
    pruned_through bigint not null default 0
);
insert into hydra_notify_gateway.recorder (id) values (1);

-- Named, durable readers of build_finished.
create table hydra_notify_gateway.consumers (
    name        text primary key check (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    created_at  timestamptz not null default now(),
    paused      boolean not null default false
);

-- Each consumer's build_finished occurrences: (build, pendingSince) since it
-- was created, with its acknowledgement and delivery lease.
create table hydra_notify_gateway.occurrences (
    consumer        text not null references hydra_notify_gateway.consumers (name) on delete cascade,
    build_id        integer not null,
    pending_since   integer not null,
    journal_position bigint,
    created_at      timestamptz not null default now(),
    acknowledged_at timestamptz,
    lease_owner     text,
    lease_until     timestamptz,
    deliveries      integer not null default 0,
    primary key (consumer, build_id, pending_since)
);
create index occurrences_pending on hydra_notify_gateway.occurrences (consumer, pending_since, build_id)
    where acknowledged_at is null;
create index occurrences_acknowledged on hydra_notify_gateway.occurrences (acknowledged_at)
    where acknowledged_at is not null;
