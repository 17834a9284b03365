/**
 * The Pothos schema builder, the request context, the shared scalars and who
 * may do what.
 *
 * Contract: every schema module imports `builder` from here and registers its
 * types and fields on import; `schema/index.ts` imports them all and builds
 * the schema once. The context is made per HTTP request and per WebSocket
 * operation, for a principal the transport authenticated; its `loaders`
 * serve queries and mutations, never subscription events (those carry their
 * own, see `events/event.ts`).
 *
 * Authorization (Pothos's scope-auth plugin): every root field needs a scope
 * (queries and subscriptions `read`, mutations `ack`, each field may ask
 * more: `admin`, or `actFor` a consumer), decided by auth/principal.ts and
 * checked before the resolver runs, at subscribe time for subscriptions. A
 * refusal is FORBIDDEN.
 *
 * Lifecycle: scope-auth keeps each context's decided scopes in a module-wide
 * WeakMap whose value holds the context itself. V8's young-generation
 * collector does not see through that cycle: an entry of a long-lived
 * WeakMap whose value refers to its key survives every scavenge, and only a
 * full collection frees it. So every request's context, its loaders and the
 * rows they hold outlived the request by seconds, promoted, until the next
 * full collection. `releaseContext` ends that entry when a query or a
 * mutation has executed (server/release.ts, in every transport's pipeline);
 * a subscription's context keeps its entry for as long as it runs.
 */
import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin, { RequestCache } from '@pothos/plugin-scope-auth';
import { Kind } from 'graphql';
import { holds, mayActFor, type Principal } from '../auth/principal.js';
import type { TokenService } from '../auth/tokens.js';
import type { ConsumerService } from '../consumers/service.js';
import type { Queryable } from '../db/queryable.js';
import { errors, quoted } from '../errors.js';
import type { StreamSource, Transport } from '../events/subscribe.js';
import type { Loaders } from '../hydra/loaders.js';
import type { WebhookService } from '../webhooks/service.js';

export type { Transport };

/** What every resolver receives. */
export interface Context {
  /** The query pool (never the LISTEN connection), for the read-only services. */
  db: Queryable;
  /** Loaders of this request. */
  loaders: Loaders;
  /** Who is asking (authenticated by the transport). */
  principal: Principal;
  /** Consumers and the pending backlog. */
  consumers: ConsumerService;
  /** Bearer tokens (admin). */
  tokens: TokenService;
  /** Webhooks and their deliveries (admin). */
  webhooks: WebhookService;
  /** What subscriptions read from. */
  streams: StreamSource;
  /** The connection this operation's results leave on (null: in-process). */
  transport: Transport | null;
  /** SSE `Last-Event-ID`: resume the subscription after this cursor. */
  resumeAfter?: string | null;
  /** The cursor of the last event delivered on this operation (SSE `id:`). */
  lastCursor?: string;
  /**
   * The event a subscription resolver just delivered on this operation, until
   * the transport takes its result (the delivery metrics, server/metrics.ts).
   * `live`: it came from the hub as it was published (not replayed from the
   * journal, not a consumer's occurrence), so its lag since receipt means
   * something.
   */
  lastDelivered?: { channel: string; receivedAt: Date; live: boolean };
}

/** The builder's type parameters. */
export interface Types {
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
  AuthScopes: {
    read: boolean;
    ack: boolean;
    admin: boolean;
    /** May act for this consumer (null: Hydra's own column). */
    actFor: string | null;
  };
}

/** The schema types Pothos derives from `Types` (for helpers that take refs and field builders). */
export type SchemaTypes = PothosSchemaTypes.ExtendDefaultTypes<Types>;

/** The builder every schema module registers on. */
export const builder = new SchemaBuilder<Types>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: ({ principal }) => ({
      read: holds(principal, 'read'),
      ack: holds(principal, 'ack'),
      admin: holds(principal, 'admin'),
      // A method, not an arrow function: Pothos keeps these scopes with each subscription.
      actFor(consumer: string | null) {
        return mayActFor(principal, consumer);
      },
    }),
    unauthorizedError: (_parent, { principal }, info) =>
      errors.forbidden(
        principal.kind === 'anonymous'
          ? `${info.parentType.name}.${info.fieldName} needs a token: anonymous clients may only read`
          : `token ${quoted(principal.name)} (scope ${principal.scope}${principal.consumers ? `, consumers ${principal.consumers.join(', ')}` : ''}) may not use ${info.parentType.name}.${info.fieldName} with these arguments`,
      ),
  },
});

function parseDateTime(value: unknown): Date {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw errors.badInput(`DateTime expects an ISO 8601 string with a time zone, e.g. "2026-01-31T12:00:00Z"; got ${quoted(value)}`);
  }
  const date = new Date(value);
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (Number.isNaN(date.getTime()) || month < 1 || month > 12 || day < 1 || day > daysInMonth) {
    throw errors.badInput(`DateTime ${quoted(value)} is not a valid date`);
  }
  return date;
}

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO 8601 string in UTC. Hydra stores whole Unix seconds.',
  serialize: (value) => value.toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

builder.scalarType('JSON', {
  description: 'Any JSON value (webhook variables and options).',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: function literal(ast): unknown {
    switch (ast.kind) {
      case Kind.STRING:
      case Kind.BOOLEAN:
        return ast.value;
      case Kind.INT:
      case Kind.FLOAT:
        return Number(ast.value);
      case Kind.NULL:
        return null;
      case Kind.LIST:
        return ast.values.map(literal);
      case Kind.OBJECT:
        return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value)]));
      default:
        throw errors.badInput('JSON literals may not hold variables');
    }
  },
});

builder.queryType({ authScopes: { read: true } });
builder.mutationType({ authScopes: { ack: true } });
builder.subscriptionType({ authScopes: { read: true } });

/**
 * Forgets the scopes decided for `context`: called once a query's or a mutation's execution is
 * done, so that nothing long-lived refers to the context any more (see the lifecycle above). Not
 * for a subscription's context, whose scopes serve each of its events.
 */
export function releaseContext(context: object): void {
  RequestCache.clearForContext(context);
}
