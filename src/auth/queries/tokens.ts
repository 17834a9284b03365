/**
 * Statements on `hydra_notify_gateway.tokens`. Tokens are looked up by the
 * sha256 of the secret a client presents; the secret itself is never stored.
 */
import type { Queryable } from '../../db/queryable.js';
import type { Scope } from '../principal.js';

/** A token as stored (without its hash). */
export interface TokenRow {
  id: number;
  name: string;
  scope: Scope;
  consumers: string[] | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

const COLUMNS = 'id, name, scope, consumers, created_at, last_used_at, expires_at, revoked_at';

function toToken(r: Record<string, unknown>): TokenRow {
  return {
    id: Number(r.id),
    name: String(r.name),
    scope: r.scope as Scope,
    consumers: (r.consumers as string[] | null) ?? null,
    createdAt: r.created_at as Date,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
    expiresAt: (r.expires_at as Date | null) ?? null,
    revokedAt: (r.revoked_at as Date | null) ?? null,
  };
}

/** Inserts a token; null when the name is taken. */
export async function insertToken(
  db: Queryable,
  token: { name: string; sha256: Buffer; scope: Scope; consumers: readonly string[] | null; expiresAt: Date | null },
): Promise<TokenRow | null> {
  const { rows } = await db.query(
    `/* insertToken */ INSERT INTO hydra_notify_gateway.tokens (name, secret_sha256, scope, consumers, expires_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
    [token.name, token.sha256, token.scope, token.consumers, token.expiresAt],
  );
  return rows[0] ? toToken(rows[0]) : null;
}

/** The valid (not revoked, not expired) token with this hash, or null. */
export async function validTokenBySha256(db: Queryable, sha256: Buffer): Promise<TokenRow | null> {
  const { rows } = await db.query(
    `/* validTokenBySha256 */ SELECT ${COLUMNS} FROM hydra_notify_gateway.tokens
     WHERE secret_sha256 = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
    [sha256],
  );
  return rows[0] ? toToken(rows[0]) : null;
}

/** Of `ids`, those still valid. */
export async function stillValid(db: Queryable, ids: readonly number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query(
    `/* stillValidTokens */ SELECT id FROM hydra_notify_gateway.tokens
     WHERE id = ANY($1::bigint[]) AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
    [ids],
  );
  return new Set(rows.map((r: { id: string }) => Number(r.id)));
}

/** Every token, newest first. */
export async function listTokens(db: Queryable): Promise<TokenRow[]> {
  const { rows } = await db.query(`/* listTokens */ SELECT ${COLUMNS} FROM hydra_notify_gateway.tokens ORDER BY id DESC`);
  return rows.map(toToken);
}

/** Revokes the token named `nameOrId` (or, failing a name, with that id); the row as it is now, or null when there is none. */
export async function revokeToken(db: Queryable, nameOrId: string): Promise<TokenRow | null> {
  const { rows } = await db.query(
    `/* revokeToken */ UPDATE hydra_notify_gateway.tokens SET revoked_at = coalesce(revoked_at, now())
     WHERE id = (SELECT id FROM (SELECT id, 0 AS o FROM hydra_notify_gateway.tokens WHERE name = $1
                                 UNION ALL SELECT id, 1 FROM hydra_notify_gateway.tokens WHERE id::text = $1) t ORDER BY o LIMIT 1)
     RETURNING ${COLUMNS}`,
    [nameOrId],
  );
  return rows[0] ? toToken(rows[0]) : null;
}

/** Records that tokens were used now. */
export async function touchTokens(db: Queryable, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query('/* touchTokens */ UPDATE hydra_notify_gateway.tokens SET last_used_at = now() WHERE id = ANY($1::bigint[])', [ids]);
}
