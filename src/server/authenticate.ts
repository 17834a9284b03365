/**
 * Authenticating a request or a WebSocket: the bearer token it presents, or
 * the anonymous principal when none is presented and the policy allows it.
 *
 * Contract: a token is read from `Authorization: Bearer <token>`; over SSE
 * from a browser's EventSource, which cannot set headers, from the
 * `access_token` query parameter instead (GET only); over graphql-ws from the
 * `connection_init` payload (`{ "token": … }` or `{ "Authorization": "Bearer …" }`).
 * A token that is presented but not valid is UNAUTHENTICATED even when
 * anonymous reading is allowed: a client that meant to authenticate must
 * know it did not. A token that cannot be looked up because the database is
 * away is DATABASE_UNAVAILABLE (HTTP 503; WebSocket close 1013, try again
 * later), which a client retries.
 */
import type { IncomingMessage } from 'node:http';
import { anonymous, type Principal } from '../auth/principal.js';
import type { TokenService } from '../auth/tokens.js';
import { errors, type GatewayError, isDatabaseUnavailable } from '../errors.js';
import type { AccessPolicy } from './policy.js';

/** The token of `Authorization: Bearer …`, or of `?access_token=` on a GET. */
export function presentedToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (header) return /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? '';
  if (req.method === 'GET') {
    const query = new URL(req.url ?? '/', 'http://gateway').searchParams.get('access_token');
    if (query !== null) return query;
  }
  return null;
}

/** The token of a graphql-ws `connection_init` payload. */
export function tokenOfConnectionParams(params: Readonly<Record<string, unknown>> | undefined): string | null {
  if (!params) return null;
  if (typeof params.token === 'string') return params.token;
  const header = params.Authorization ?? params.authorization;
  if (typeof header === 'string') return /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? '';
  return null;
}

/**
 * Who presents `token` (null: none presented) from `address`, or why not.
 * `holder` is the connection that presents it (an HTTP keep-alive socket):
 * the token service hashes a token once per connection.
 */
export async function authenticate(
  tokens: TokenService,
  policy: AccessPolicy,
  token: string | null,
  address: string,
  holder?: object,
): Promise<Principal | GatewayError> {
  if (token === null) {
    return policy.anonymous === 'read'
      ? anonymous(address)
      : errors.unauthenticated('a bearer token is required (Authorization: Bearer <token>)');
  }
  let principal: Principal | null;
  try {
    principal = await tokens.verify(token, holder);
  } catch (error) {
    // The token could not be looked up: say so, never UNAUTHENTICATED (a client would give up on its token).
    if (isDatabaseUnavailable(error)) return errors.databaseUnavailable();
    throw error;
  }
  return principal ?? errors.unauthenticated('the token is not valid: unknown, revoked or expired');
}
