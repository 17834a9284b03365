/**
 * Who is asking: a principal is either a token (with its scope and, for an
 * `ack` token, the consumers it may act for) or anonymous (when
 * `HNG_ANONYMOUS=read` lets clients without a token read).
 *
 * Scopes are ordered, each including the ones before it: `read` (queries and
 * subscriptions), `ack` (acknowledge, and read a consumer's pending set and
 * deliveries, for the consumers it is bound to or all), `admin` (tokens,
 * consumers, webhooks). Every decision about what a principal may do is made
 * by the functions here, so that GraphQL, the transports and the CLI agree.
 */

/** A scope, lowest first. */
export const SCOPES = ['read', 'ack', 'admin'] as const;

/** A scope. */
export type Scope = (typeof SCOPES)[number];

/** Who is asking. */
export interface Principal {
  kind: 'token' | 'anonymous';
  /** The token's id; null when anonymous. */
  tokenId: number | null;
  /** The token's name, or `anonymous`. */
  name: string;
  scope: Scope;
  /** For `ack`: the consumers it may act for; null: all. */
  consumers: readonly string[] | null;
  /** When the token stops being valid; null: never. */
  expiresAt: Date | null;
  /** What its connections count against: the token, or the remote address of an anonymous client. */
  limitKey: string;
}

/** The anonymous principal of a client at `address` (read only). */
export function anonymous(address: string): Principal {
  return {
    kind: 'anonymous',
    tokenId: null,
    name: 'anonymous',
    scope: 'read',
    consumers: null,
    expiresAt: null,
    limitKey: `anonymous@${address}`,
  };
}

/** Whether `principal` holds `scope` (or one above it). */
export function holds(principal: Principal, scope: Scope): boolean {
  return SCOPES.indexOf(principal.scope) >= SCOPES.indexOf(scope);
}

/**
 * Whether `principal` may act for `consumer` (acknowledge its occurrences,
 * read its pending set and deliveries); `consumer` null means Hydra's own
 * column, which only a token bound to no consumer may clear.
 */
export function mayActFor(principal: Principal, consumer: string | null): boolean {
  if (holds(principal, 'admin')) return true;
  if (!holds(principal, 'ack')) return false;
  if (principal.consumers === null) return true;
  return consumer !== null && principal.consumers.includes(consumer);
}
