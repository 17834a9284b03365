/**
 * How the gateway says no, as the client sees it: GraphQL errors carry a
 * stable `extensions.code` (the gateway's table is in the README, "The API"),
 * and WebSocket closes carry a code of graphql-ws's or the gateway's own.
 *
 * Contract: this module only classifies; it decides nothing. A subscription
 * ended by one of `RESUMABLE_CODES` is resubscribed at once with the last
 * cursor (the gateway asks for exactly that); one of `FATAL_CLOSE_CODES`
 * ends the subscription with an error, since retrying the same token or
 * document cannot succeed; every other close (the gateway restarting, the
 * network) is retried with backoff.
 */

/** Codes after which the gateway asks the client to resubscribe with its last cursor. */
export const RESUMABLE_CODES: readonly string[] = ['SLOW_CONSUMER', 'ROW_LOAD_FAILED'];

/**
 * Codes of a gateway that could not answer now (its database is away): the
 * consumer loop asks its acknowledgement again, with backoff.
 */
export const RETRY_LATER_CODES: readonly string[] = ['DATABASE_UNAVAILABLE'];

/**
 * WebSocket close codes no retry can cure: 4400 bad request, 4401
 * unauthenticated (a missing, bad, revoked or expired token), 4403
 * forbidden, 4406 subprotocol not acceptable, 4409 duplicate subscription id,
 * 1002 protocol error, 1003 unsupported data.
 */
export const FATAL_CLOSE_CODES: readonly number[] = [1002, 1003, 4400, 4401, 4403, 4406, 4409];

/** One GraphQL error as the gateway sends it. */
export interface GraphQLErrorLike {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

/**
 * The gateway answered with errors (or an HTTP status that is not success).
 * `code` is the first error's `extensions.code` (e.g. `NOT_FOUND`,
 * `CURSOR_EXPIRED`, `UNAUTHENTICATED`), or `HTTP_<status>` when the answer
 * held no GraphQL error; `data` is the partial result, if any (a batch
 * answers item by item).
 */
export class GatewayResponseError extends Error {
  override readonly name = 'GatewayResponseError';
  constructor(
    readonly code: string,
    message: string,
    readonly errors: readonly GraphQLErrorLike[] = [],
    readonly data: unknown = null,
    readonly status: number | null = null,
  ) {
    super(message);
  }

  /** From a list of GraphQL errors. */
  static of(errors: readonly GraphQLErrorLike[], data: unknown = null, status: number | null = null): GatewayResponseError {
    const code = errors.find((e) => typeof e.extensions?.code === 'string')?.extensions?.code ?? (status ? `HTTP_${status}` : 'UNKNOWN');
    return new GatewayResponseError(code, errors.map((e) => e.message).join('; ') || `HTTP ${status}`, errors, data, status);
  }
}

/** The socket closed with a code no retry can cure (see `FATAL_CLOSE_CODES`). */
export class GatewayClosedError extends Error {
  override readonly name = 'GatewayClosedError';
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`the gateway closed the connection: ${code}${reason ? ` ${reason}` : ''}`);
  }
}

/** A close event, as `ws` and browsers report it. */
export interface CloseLike {
  code: number;
  reason?: string;
}

/** Whether `value` looks like a WebSocket close event. */
export function isClose(value: unknown): value is CloseLike {
  return typeof value === 'object' && value !== null && typeof (value as CloseLike).code === 'number';
}

/** Whether `value` is a list of GraphQL errors (graphql-ws's `error` message). */
export function isGraphQLErrors(value: unknown): value is GraphQLErrorLike[] {
  return Array.isArray(value) && value.every((e) => typeof e === 'object' && e !== null && typeof e.message === 'string');
}
