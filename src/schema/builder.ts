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
import { Kind } from 'graphql';
import type { ConsumerService } from '../consumers/service.js';
import type { Queryable } from '../db/queryable.js';
import { errors, quoted } from '../errors.js';
import type { StreamSource } from '../events/subscribe.js';
import type { Loaders } from '../hydra/loaders.js';

/** What every resolver receives. */
export interface Context {
  /** The query pool (never the LISTEN connection), for the read-only services. */
  db: Queryable;
  /** Loaders of this request. */
  loaders: Loaders;
  /** Consumers and the pending backlog. */
  consumers: ConsumerService;
  /** What subscriptions read from. */
  streams: StreamSource;
  /** SSE `Last-Event-ID`: resume the subscription after this cursor. */
  resumeAfter?: string | null;
  /** The cursor of the last event delivered on this operation (SSE `id:`). */
  lastCursor?: string;
}

/** The builder's type parameters. */
export interface Types {
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
  };
  DefaultFieldNullability: false;
}

/** The schema types Pothos derives from `Types` (for helpers that take refs and field builders). */
export type SchemaTypes = PothosSchemaTypes.ExtendDefaultTypes<Types>;

/** The builder every schema module registers on. */
export const builder = new SchemaBuilder<Types>({
  defaultFieldNullability: false,
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

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
