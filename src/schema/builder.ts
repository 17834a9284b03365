/**
 * The Pothos schema builder, the request context and the shared scalars.
 *
 * Contract: every schema module imports `builder` from here and registers its
 * types and fields on import; `schema/index.ts` imports them all and builds
 * the schema once. The context is made per HTTP request and per WebSocket
 * operation; its `loaders` serve queries and mutations, never subscription
 * events (those carry their own, see `events/event.ts`).
 */
import SchemaBuilder from '@pothos/core';
import { GraphQLError, Kind } from 'graphql';
import type { ConsumerHints } from '../consumers/hints.js';
import type { Queryable } from '../db/queryable.js';
import type { EventHub } from '../events/hub.js';
import type { Loaders } from '../hydra/loaders.js';

/** What every resolver receives. */
export interface Context {
  /** The query pool (never the LISTEN connection). */
  db: Queryable;
  /** Loaders of this request. */
  loaders: Loaders;
  hub: EventHub;
  /** Queue bound of each subscription. */
  subscriberQueueLimit: number;
  /** Age bound of the oldest event waiting for a subscription. */
  subscriberMaxLagMs: number;
  /** The position of the last event this instance's reader published. */
  published: () => number;
  /**
   * Who clears Hydra's `notificationpendingsince`: `owner` (the gateway, once
   * every active consumer acknowledged) or `observer` (hydra-notify; the
   * gateway never writes it).
   */
  mode: 'owner' | 'observer';
  /** Wakes consumer subscriptions of this instance. */
  consumerHints: ConsumerHints;
  /** How long a consumer's delivery waits for its acknowledgement before redelivery. */
  visibilityMs: number;
  /** Runs `fn` in one transaction on one pooled connection. */
  transaction: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>;
  /** SSE `Last-Event-ID`: resume the subscription after this cursor. */
  resumeAfter?: string | null;
  /** The cursor of the last event delivered on this operation (SSE `id:`). */
  lastCursor?: string;
}

/** The builder every schema module registers on. */
export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
  };
  DefaultFieldNullability: false;
}>({
  defaultFieldNullability: false,
});

function parseDateTime(value: unknown): Date {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw new GraphQLError(
      `DateTime expects an ISO 8601 string with a time zone, e.g. "2026-01-31T12:00:00Z"; got ${JSON.stringify(value)}`,
      {
        extensions: { code: 'BAD_USER_INPUT' },
      },
    );
  }
  const date = new Date(value);
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (Number.isNaN(date.getTime()) || month < 1 || month > 12 || day < 1 || day > daysInMonth) {
    throw new GraphQLError(`DateTime ${JSON.stringify(value)} is not a valid date`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return date;
}

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO 8601 string in UTC. Hydra stores whole Unix seconds.',
  serialize: (value) => value.toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
