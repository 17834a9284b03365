/**
 * The bearer token the orchestrator sends to each server that asked for one
 * (the gateway: its subscribers may read anonymously, but acknowledgements
 * need a token), by origin. Only the orchestrator's own HTTP requests
 * (`post`) use it; the subscriber fleets read anonymously.
 */

const tokens = new Map<string, string>();

/** Remembers `token` for the server at `url`. */
export function rememberToken(url: string, token: string): void {
  tokens.set(new URL(url).origin, token);
}

/** The Authorization header for `url`, if its server gave a token. */
export function authorizationFor(url: string): Record<string, string> {
  const token = tokens.get(new URL(url).origin);
  return token ? { authorization: `Bearer ${token}` } : {};
}
