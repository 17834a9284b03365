/**
 * Every error a client can act on: one table of stable `extensions.code`s,
 * each with its meaning and one factory.
 *
 * Contract: services, the GraphQL layer and the transports build client-facing
 * errors only through the factories here, so a code is spelt once and means
 * one thing. The errors are `GraphQLError`s: yoga passes them to the client
 * as they are (message, `extensions.code` and the named extensions), an
 * error that says the database could not be reached becomes
 * DATABASE_UNAVAILABLE (`maskUnexpected`), and anything else thrown is
 * masked as "Unexpected error." and logged. The
 * README's table of codes is checked against `ERROR_CODES` by a test.
 */
import { GraphQLError } from 'graphql';
import { maskError } from 'graphql-yoga';

/** Every code, with the meaning the README gives it. */
export const ERROR_CODES = {
  UNAUTHENTICATED: 'No valid token: missing, unknown, revoked or expired (HTTP 401; WebSocket close code 4401).',
  FORBIDDEN: "The token's scope does not allow this, or it is not bound to that consumer (HTTP 403).",
  LIMIT_EXCEEDED:
    'A limit was reached (document depth, cost, aliases, tokens or size; subscriptions, sockets or streams); the message names it and its setting.',
  BAD_USER_INPUT: 'An argument is malformed or out of range; the message says which and why.',
  NOT_FOUND: 'No build, consumer, token, webhook or webhook delivery with that id or name.',
  ALREADY_EXISTS: 'A consumer, token or webhook with that name exists already.',
  NOT_FINISHED: 'The build has not finished, so it has no finish to redeliver.',
  CURSOR_EXPIRED: 'Retention pruned the events after this cursor; read the backlog or start without a cursor.',
  OBSERVER_MODE: "This gateway never writes Hydra's column (`HNG_MODE=observer`); acknowledge per consumer.",
  SLOW_CONSUMER: 'The subscription ended because the client fell behind; resubscribe with the last cursor.',
  ROW_LOAD_FAILED: 'The subscription ended because the rows its filter needs could not be loaded; resubscribe with the last cursor.',
  DATABASE_UNAVAILABLE:
    'The gateway cannot reach its database right now (HTTP 503; WebSocket close code 1013); retry with backoff. An acknowledgement retried answers ALREADY_ACKNOWLEDGED if the first one took effect.',
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** A client-facing error: a `GraphQLError` whose `extensions.code` is one of `ERROR_CODES`. */
export class GatewayError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { ...extensions, code } });
  }
}

/**
 * The GraphQL response body of an error answered outside GraphQL execution (a
 * refusal over HTTP or SSE): its message and extensions, without the `http`
 * hints the transport has already applied.
 */
export function errorResult(error: GatewayError): { errors: { message: string; extensions: Record<string, unknown> }[] } {
  const { http: _http, ...extensions } = error.extensions;
  return { errors: [{ message: error.message, extensions }] };
}

/** A value quoted for a message, cut so that a hostile argument cannot flood the reply or the log. */
export function quoted(value: unknown, max = 100): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The factories, one per code (and per common case of a code). */
export const errors = {
  /** No valid token. */
  unauthenticated: (message = 'a valid bearer token is required') =>
    new GatewayError('UNAUTHENTICATED', message, { http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } }),

  /** The principal may not do this. */
  forbidden: (message: string) => new GatewayError('FORBIDDEN', message, { http: { status: 403 } }),

  /** A limit was reached; `setting` names the variable that sets it. */
  limitExceeded: (message: string, setting: string) => new GatewayError('LIMIT_EXCEEDED', `${message} (${setting})`, { setting }),

  /** An argument is malformed or out of range. */
  badInput: (message: string, extensions?: Record<string, unknown>) => new GatewayError('BAD_USER_INPUT', message, extensions),

  /** No build with this id. */
  buildNotFound: (buildId: number) => new GatewayError('NOT_FOUND', `no build with id ${buildId}`, { buildId }),

  /** No consumer with this name. */
  consumerNotFound: (consumer: string) =>
    new GatewayError('NOT_FOUND', `no consumer named ${quoted(consumer)}; create it with createConsumer`, { consumer }),

  /** A consumer with this name exists already. */
  consumerExists: (consumer: string) =>
    new GatewayError('ALREADY_EXISTS', `a consumer named ${quoted(consumer)} exists already`, { consumer }),

  /** No token with this name or id. */
  tokenNotFound: (token: string) => new GatewayError('NOT_FOUND', `no token named ${quoted(token)}`, { token }),

  /** A token with this name exists already. */
  tokenExists: (token: string) => new GatewayError('ALREADY_EXISTS', `a token named ${quoted(token)} exists already`, { token }),

  /** No webhook with this name. */
  webhookNotFound: (webhook: string) => new GatewayError('NOT_FOUND', `no webhook named ${quoted(webhook)}`, { webhook }),

  /** A webhook with this name exists already. */
  webhookExists: (webhook: string) => new GatewayError('ALREADY_EXISTS', `a webhook named ${quoted(webhook)} exists already`, { webhook }),

  /** No webhook delivery with this id. */
  deliveryNotFound: (id: string) => new GatewayError('NOT_FOUND', `no webhook delivery with id ${quoted(id)}`, { delivery: id }),

  /** The build has no finish (queued, building, or restarted). */
  notFinished: (buildId: number) => new GatewayError('NOT_FINISHED', `build ${buildId} has not finished`, { buildId }),

  /** Retention pruned the events after `position`. */
  cursorExpired: (position: number, prunedThrough: number) =>
    new GatewayError(
      'CURSOR_EXPIRED',
      `cursor expired: events after it up to position ${prunedThrough} were pruned by retention; read pendingBuildFinished or start without a cursor`,
      { position, prunedThrough },
    ),

  /** Writing Hydra's column was asked of an observer. */
  observerMode: () =>
    new GatewayError(
      'OBSERVER_MODE',
      'this gateway runs in observer mode (HNG_MODE=observer): hydra-notify clears notificationpendingsince, the gateway never writes it; acknowledge per consumer instead',
    ),

  /** The subscriber fell behind. */
  slowConsumer: (why: string) =>
    new GatewayError('SLOW_CONSUMER', `subscription ended: this client fell behind (${why}); resubscribe with the last cursor`),

  /** The rows a subscription's filter needs could not be loaded. */
  rowLoadFailed: () => new GatewayError('ROW_LOAD_FAILED', 'subscription ended: the rows for its filter could not be loaded'),

  /** The database could not be reached (refused, dropped, shutting down, starting up). */
  databaseUnavailable: () =>
    new GatewayError('DATABASE_UNAVAILABLE', 'the gateway cannot reach its database right now; retry with backoff', {
      http: { status: 503, headers: { 'retry-after': '1' } },
    }),
} as const;

/** Node's socket errors of a connection that could not be made or was lost (ENOENT: a Unix socket that is not there). */
const UNREACHABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ENOENT',
]);

/**
 * Postgres's SQLSTATEs of a server that is not serving: connection exceptions
 * (08000, 08001, 08003, 08004, 08006; not 08P01, a protocol violation, which
 * is a statement's bug), 57P01-57P03 (shut down by an administrator, crashed,
 * starting up), 53300 (too many connections).
 */
const UNAVAILABLE_STATES = new Set(['08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03', '53300']);

/**
 * What pg and pg-pool say, without a code, of a connection the server ended
 * or that never came (not "Connection terminated" alone: a client this
 * process ended itself).
 */
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated unexpectedly|Connection terminated due to connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * Whether `error` (or what it wraps: a GraphQL error's `originalError`, a
 * `cause`, an `AggregateError`'s errors) says the database could not be
 * reached, as opposed to a statement that failed.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const { code, message, originalError, cause } = error as { code?: unknown; message?: unknown; originalError?: unknown; cause?: unknown };
  if (typeof code === 'string' && (UNREACHABLE_ERRNOS.has(code) || UNAVAILABLE_STATES.has(code))) return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
  if (error instanceof AggregateError && error.errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(originalError, depth + 1) || isDatabaseUnavailable(cause, depth + 1);
}

/**
 * What a client sees of an error thrown while executing, as yoga's
 * `maskError` (same arguments): a `GatewayError` as it is; one that says the
 * database could not be reached as DATABASE_UNAVAILABLE (at the same path);
 * anything else as yoga masks it ("Unexpected error.").
 */
export function maskUnexpected(error: unknown, message = 'Unexpected error.', isDev = false): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof GatewayError || !isDatabaseUnavailable(error)) return maskError(error, message, isDev);
  const unavailable = errors.databaseUnavailable();
  if (!(error instanceof GraphQLError)) return unavailable;
  return new GraphQLError(unavailable.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: unavailable.extensions,
  });
}
