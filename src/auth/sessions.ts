/**
 * Sessions: the long-lived connections of each principal (WebSockets and SSE
 * streams), counted against per-principal limits and ended when their token
 * stops being valid.
 *
 * Contract:
 * - `open(principal, kind, end)` registers a connection and returns the
 *   function that unregisters it; LIMIT_EXCEEDED when the principal already
 *   holds its limit of that kind (an anonymous client counts by its remote
 *   address).
 * - A revoked token's sessions end at once (`revoked`, fed by the
 *   `hng_token` hint from whichever instance revoked it), and every
 *   `recheckMs` the sessions of tokens no longer valid (revoked, expired, or a
 *   hint missed while the LISTEN connection was down) end too: within
 *   seconds, on every instance.
 * - `end(reason)` is the transport's: a WebSocket closes with 4401, an SSE
 *   stream sends an UNAUTHENTICATED error and completes. Each session is
 *   ended once.
 */
import type { Queryable } from '../db/queryable.js';
import { errors } from '../errors.js';
import type { Log } from '../log.js';
import type { Principal } from './principal.js';
import { stillValid } from './queries/tokens.js';

/** A kind of long-lived connection. */
export type SessionKind = 'ws' | 'sse';

interface Session {
  principal: Principal;
  kind: SessionKind;
  end: (reason: string) => void;
}

/** Live sessions; see the module contract. */
export class Sessions {
  private readonly byKey = new Map<string, Set<Session>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: {
      db: Queryable;
      log: Log;
      /** Most WebSockets one principal may hold open. */
      socketsPerPrincipal: number;
      /** Most SSE streams one principal may hold open. */
      streamsPerPrincipal: number;
      /** @default 2_000 */
      recheckMs?: number;
    },
  ) {}

  /** Sessions open now, by kind. */
  count(kind: SessionKind): number {
    let n = 0;
    for (const set of this.byKey.values()) for (const s of set) if (s.kind === kind) n++;
    return n;
  }

  /** Registers a connection of `principal`; returns its unregistering function. */
  open(principal: Principal, kind: SessionKind, end: (reason: string) => void): () => void {
    let set = this.byKey.get(principal.limitKey);
    const limit = kind === 'ws' ? this.options.socketsPerPrincipal : this.options.streamsPerPrincipal;
    const held = set ? [...set].filter((s) => s.kind === kind).length : 0;
    if (held >= limit) {
      throw errors.limitExceeded(
        `${principal.name} holds ${held} ${kind === 'ws' ? 'WebSockets' : 'SSE streams'} already, the most allowed`,
        kind === 'ws' ? 'HNG_MAX_SOCKETS_PER_TOKEN' : 'HNG_MAX_SSE_STREAMS_PER_TOKEN',
      );
    }
    if (!set) this.byKey.set(principal.limitKey, (set = new Set()));
    const session: Session = { principal, kind, end };
    set.add(session);
    return () => this.close(session);
  }

  /** A token was revoked (here or elsewhere): its sessions end now. */
  revoked(tokenId: number): void {
    for (const set of [...this.byKey.values()]) {
      for (const s of [...set]) if (s.principal.tokenId === tokenId) this.finish(s, 'the token was revoked');
    }
  }

  /** Rechecks every `recheckMs` that the tokens of open sessions are still valid. */
  start(): void {
    this.timer = setInterval(() => void this.recheck(), this.options.recheckMs ?? 2_000);
    this.timer.unref();
  }

  /** Stops rechecking. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Ends the sessions whose token expired or was revoked. */
  async recheck(): Promise<void> {
    const now = Date.now();
    const ids = new Set<number>();
    for (const set of this.byKey.values()) {
      for (const s of [...set]) {
        if (s.principal.expiresAt && s.principal.expiresAt.getTime() <= now) this.finish(s, 'the token expired');
        else if (s.principal.tokenId !== null) ids.add(s.principal.tokenId);
      }
    }
    if (ids.size === 0) return;
    try {
      const valid = await stillValid(this.options.db, [...ids]);
      for (const id of ids) if (!valid.has(id)) this.revoked(id);
    } catch (error) {
      this.options.log.warn('could not recheck the tokens of open connections', { error: (error as Error).message });
    }
  }

  private finish(session: Session, reason: string): void {
    this.close(session);
    this.options.log.info('connection ended', { tokenName: session.principal.name, transport: session.kind, reason });
    session.end(reason);
  }

  private close(session: Session): void {
    const set = this.byKey.get(session.principal.limitKey);
    if (!set?.delete(session)) return;
    if (set.size === 0) this.byKey.delete(session.principal.limitKey);
  }
}
