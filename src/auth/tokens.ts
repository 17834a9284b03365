/**
 * The token service: creating, listing, revoking and verifying bearer tokens.
 *
 * Contract:
 * - A token is `hng_` and 32 base64url characters (192 random bits). It is
 *   returned once, by `create`; only its sha256 is stored, so nobody can read
 *   it back, and the log never sees it.
 * - `verify` answers from a short cache (`cacheMs`), so a busy client costs
 *   one lookup every few seconds, not one per request; the sha256 that keys
 *   it is remembered per `holder` (an HTTP keep-alive socket) for the secret
 *   that holder presented last, so a connection's requests hash it once (the
 *   cache itself, and so revocation, is still consulted on every call);
 *   `last_used_at` is
 *   written at most once per `touchEveryMs` per token. A revocation clears
 *   the cache on every instance at once (the `hng_token` hint, `forget`);
 *   expiry is checked on every answer.
 * - Ending the connections of a revoked or expired token is the sessions'
 *   job (sessions.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { notifyInternal, TOKEN_CHANNEL } from '../db/channels.js';
import { errors, quoted } from '../errors.js';
import type { Log } from '../log.js';
import { checkConsumerName } from '../consumers/names.js';
import type { Principal, Scope } from './principal.js';
import { SCOPES } from './principal.js';
import { insertToken, listTokens, revokeToken, type TokenRow, touchTokens, validTokenBySha256 } from './queries/tokens.js';

export type { TokenRow };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;
const TOKEN = /^hng_[A-Za-z0-9_-]{32}$/;

/** What a new token is for. */
export interface NewToken {
  name: string;
  scope: Scope;
  /** `ack` only: the consumers it may act for (none given: all). */
  consumers?: readonly string[] | null;
  expiresAt?: Date | null;
}

/** Whether two presented secrets are the same, in time that does not depend on where they differ. */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function sha256(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

function toPrincipal(row: TokenRow): Principal {
  return {
    kind: 'token',
    tokenId: row.id,
    name: row.name,
    scope: row.scope,
    consumers: row.consumers,
    expiresAt: row.expiresAt,
    limitKey: `token:${row.id}`,
  };
}

/** Bearer tokens; see the module contract. */
export class TokenService {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  private readonly touched = new Map<number, number>();
  /** The cache key of the secret each holder (a socket) presented last: no plaintext outlives its connection. */
  private readonly keys = new WeakMap<object, { secret: string; key: string }>();

  constructor(
    private readonly options: {
      pool: pg.Pool;
      log: Log;
      /** @default 2_000 */
      cacheMs?: number;
      /** @default 60_000 */
      touchEveryMs?: number;
    },
  ) {}

  /** Creates a token; returns it (shown this once) and its row. */
  async create(spec: NewToken): Promise<{ token: string; row: TokenRow }> {
    if (!NAME.test(spec.name)) {
      throw errors.badInput(`token names are 1 to 100 characters of letters, digits, ".", "_", "@" and "-"; got ${quoted(spec.name)}`);
    }
    if (!SCOPES.includes(spec.scope)) throw errors.badInput(`scope must be one of ${SCOPES.join(', ')}; got ${quoted(spec.scope)}`);
    const consumers = spec.consumers?.length ? [...new Set(spec.consumers.map(checkConsumerName))] : null;
    if (consumers && spec.scope !== 'ack') throw errors.badInput('only an ack token is bound to consumers');
    if (spec.expiresAt && spec.expiresAt.getTime() <= Date.now()) throw errors.badInput('expiresAt must be in the future');
    const token = `hng_${randomBytes(24).toString('base64url')}`;
    const row = await insertToken(this.options.pool, {
      name: spec.name,
      sha256: sha256(token),
      scope: spec.scope,
      consumers,
      expiresAt: spec.expiresAt ?? null,
    });
    if (!row) throw errors.tokenExists(spec.name);
    this.options.log.info('token created', { tokenName: row.name, scope: row.scope });
    return { token, row };
  }

  /** Every token, newest first (revoked ones included, with their revocation time). */
  list(): Promise<TokenRow[]> {
    return listTokens(this.options.pool);
  }

  /** Revokes a token by name (or id): its connections end on every instance within seconds. */
  async revoke(nameOrId: string): Promise<TokenRow> {
    const row = await revokeToken(this.options.pool, nameOrId);
    if (!row) throw errors.tokenNotFound(nameOrId);
    await notifyInternal(this.options.pool, TOKEN_CHANNEL, String(row.id));
    this.forget(row.id);
    this.options.log.info('token revoked', { tokenName: row.name });
    return row;
  }

  /**
   * The principal of a presented token, or null when it is not a valid one.
   * `holder` is what presents it again and again (an HTTP connection), for
   * which the token's hash is remembered.
   */
  async verify(secret: string, holder?: object): Promise<Principal | null> {
    if (!TOKEN.test(secret)) return null;
    const key = this.keyOf(secret, holder);
    const now = Date.now();
    let entry = this.cache.get(key);
    if (!entry || entry.until < now) {
      const row = await validTokenBySha256(this.options.pool, Buffer.from(key, 'hex'));
      entry = { principal: row ? toPrincipal(row) : null, until: now + (this.options.cacheMs ?? 2_000) };
      this.cache.set(key, entry);
      if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    }
    const { principal } = entry;
    if (!principal || (principal.expiresAt && principal.expiresAt.getTime() <= now)) return null;
    this.touch(principal.tokenId!, now);
    return principal;
  }

  /** Drops what the cache knows of a token (it was revoked, here or on another instance). */
  forget(tokenId: number): void {
    for (const [key, entry] of this.cache) if (entry.principal?.tokenId === tokenId) this.cache.delete(key);
  }

  private keyOf(secret: string, holder: object | undefined): string {
    const known = holder && this.keys.get(holder);
    // In constant time: behind a proxy that pools its upstream connections, one socket carries
    // the requests of several clients, and an early exit would time one secret against another.
    if (known && sameSecret(known.secret, secret)) return known.key;
    const key = sha256(secret).toString('hex');
    if (holder) this.keys.set(holder, { secret, key });
    return key;
  }

  private touch(tokenId: number, now: number): void {
    if ((this.touched.get(tokenId) ?? 0) > now - (this.options.touchEveryMs ?? 60_000)) return;
    this.touched.set(tokenId, now);
    touchTokens(this.options.pool, [tokenId]).catch((error: Error) =>
      this.options.log.debug('could not record token use', { error: error.message }),
    );
  }
}
