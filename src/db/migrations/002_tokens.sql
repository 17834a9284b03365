-- Bearer tokens: who may use the gateway, and for what. Only a hash of each
-- token is kept; the token itself is shown once, when it is created.
create table hydra_notify_gateway.tokens (
    id            bigserial primary key,
    name          text not null unique check (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$'),
    -- sha256 of the whole token: tokens are 192 random bits, so a fast hash is enough.
    secret_sha256 bytea not null unique,
    -- read < ack < admin: each scope includes the ones before it.
    scope         text not null check (scope in ('read', 'ack', 'admin')),
    -- ack: the consumers it may act for; null: every consumer (and Hydra's own column).
    consumers     text[],
    created_at    timestamptz not null default now(),
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    check (consumers is null or scope = 'ack')
);
