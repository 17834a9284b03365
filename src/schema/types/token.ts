/**
 * Bearer tokens (admin): `Token`, the `tokens` query, `createToken` (the
 * token is in its answer, once) and `revokeToken` (its connections end on
 * every instance within seconds). The rules are the token service's
 * (auth/tokens.ts).
 */
import { SCOPES, type Scope } from '../../auth/principal.js';
import type { TokenRow } from '../../auth/tokens.js';
import { builder } from '../builder.js';

const TokenScopeEnum = builder.enumType('TokenScope', {
  description: 'What a token may do; each scope includes the ones before it.',
  values: {
    READ: { value: 'read', description: 'Queries and subscriptions.' },
    ACK: {
      value: 'ack',
      description:
        "Also acknowledge, and read a consumer's pending set and deliveries: of the consumers it is bound to, or of every consumer (and Hydra's own column) when it is bound to none.",
    },
    ADMIN: { value: 'admin', description: 'Also tokens, consumers and webhooks.' },
  } satisfies Record<Uppercase<Scope>, { value: Scope; description: string }>,
});

const TokenRef = builder.objectRef<TokenRow>('Token').implement({
  description: 'A bearer token, as stored: its secret is shown once, at creation, and never again.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    name: t.exposeString('name'),
    scope: t.field({ type: TokenScopeEnum, resolve: (r) => r.scope }),
    consumers: t.exposeStringList('consumers', { nullable: true, description: 'For ack: the consumers it may act for; null: all.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'Last use, to the minute.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreatedTokenRef = builder.objectRef<{ token: string; row: TokenRow }>('CreatedToken').implement({
  fields: (t) => ({
    token: t.exposeString('token', {
      description: 'The secret to send as `Authorization: Bearer <token>`. Shown only here: store it now.',
    }),
    details: t.field({ type: TokenRef, resolve: (c) => c.row }),
  }),
});

builder.queryField('tokens', (t) =>
  t.field({
    type: [TokenRef],
    authScopes: { admin: true },
    description: 'Every token, newest first, revoked ones included.',
    resolve: (_, __, ctx) => ctx.tokens.list(),
  }),
);

builder.mutationField('createToken', (t) =>
  t.field({
    type: CreatedTokenRef,
    authScopes: { admin: true },
    description: `Creates a token (scopes: ${SCOPES.join(', ')}); ALREADY_EXISTS when the name is taken.`,
    args: {
      name: t.arg.string({ required: true }),
      scope: t.arg({ type: TokenScopeEnum, required: true }),
      consumers: t.arg.stringList({ description: 'ack only: the consumers it may act for (default: all).' }),
      expiresAt: t.arg({ type: 'DateTime' }),
    },
    resolve: (_, { name, scope, consumers, expiresAt }, ctx) => ctx.tokens.create({ name, scope, consumers, expiresAt }),
  }),
);

builder.mutationField('revokeToken', (t) =>
  t.field({
    type: TokenRef,
    authScopes: { admin: true },
    description: 'Revokes a token by name: it stops working at once, and its open connections end within seconds on every instance.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.tokens.revoke(name),
  }),
);
