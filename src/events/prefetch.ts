/**
 * Loading a live event's build row while its notification is journaled.
 *
 * Contract: a notification reaches subscribers only once the recorder has
 * journaled it (a durable commit), and the event's resolvers then load its
 * build's row: two round trips in a row on the way to every client. `heard`
 * starts the second beside the first. When the notification names a build
 * and a live subscriber wants its channel (the hub's `listens`), a loader set
 * is made for the event to come and the build loaded into it (with its jobset
 * and project: one statement, hydra/loaders.ts); `take` hands that set to the
 * event the live pipeline makes from the journaled notification, matched by
 * channel and build, so its first load finds the row loaded or in flight.
 *
 * - The load is started on the next turn of the event loop (`setImmediate`),
 *   after the recorder's journal write, which `heard` must therefore follow:
 *   the write is what every subscriber waits for, and is sent first.
 * - The row is read after Hydra's transaction committed (a notification is
 *   delivered only then), as the event's own load would read it, a few
 *   milliseconds sooner. The set is the event's alone, as before: rows are
 *   never shared between events.
 * - Bounded: at most `max` sets wait; one not taken within `ttlMs` (a
 *   notification another instance journals much later, or one never
 *   journaled) is dropped; past `max` (an evaluation's burst) events load as
 *   before, in their own batches, so a burst is never a statement per
 *   notification beyond the first `max`.
 * - A failed load is cleared from its set and the set dropped: an event that
 *   has not asked yet loads afresh.
 * - Nothing here is needed for correctness: without a set waiting, an event
 *   loads its rows itself.
 */
import type { Queryable } from '../db/queryable.js';
import { createLoaders, type Loaders } from '../hydra/loaders.js';
import { isChannel } from '../hydra/channels.js';
import { type Notice, PayloadError, parsePayload } from '../hydra/payloads.js';
import type { GapNotice } from './event.js';

/** Sets waiting at most, unless configured otherwise. */
export const PREFETCH_MAX = 64;
/** How long a set waits to be taken, ms, unless configured otherwise. */
export const PREFETCH_TTL_MS = 5_000;

interface Waiting {
  loaders: Loaders;
  at: number;
}

/** The build an event of `notice` is about, when its notice names one by id. */
function buildOf(notice: Notice | GapNotice): number | null {
  return 'buildId' in notice ? notice.buildId : null;
}

/** The key of the event of `channel` about `buildId`. */
function keyOf(channel: string, buildId: number): string {
  return `${channel}\u0000${buildId}`;
}

/** Row loads started ahead of their events; see the module contract. */
export class RowPrefetch {
  private readonly waiting = new Map<string, Waiting>();
  /** Notices heard this turn, whose loads start on the next. */
  private soon: Notice[] = [];
  private readonly max: number;
  private readonly ttlMs: number;

  constructor(
    private readonly options: {
      db: Queryable;
      /** Whether a live subscriber wants events of this channel now. */
      listens: (channel: Notice['channel']) => boolean;
      max?: number;
      ttlMs?: number;
    },
  ) {
    this.max = options.max ?? PREFETCH_MAX;
    this.ttlMs = options.ttlMs ?? PREFETCH_TTL_MS;
  }

  /** Sets waiting now. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * A notification was heard on `channel` (before it is journaled): its build
   * is loaded on the next turn of the event loop if someone will want it; one
   * that is not a well-formed Hydra notice is left alone.
   */
  heardPayload(channel: string, payload: string): void {
    if (!isChannel(channel) || !this.options.listens(channel)) return;
    if (this.waiting.size + this.soon.length >= this.max) return;
    const notice = parsePayload(channel, payload);
    if (notice instanceof PayloadError) return;
    this.soon.push(notice);
    if (this.soon.length === 1) setImmediate(() => this.startSoon());
  }

  private startSoon(): void {
    const soon = this.soon;
    this.soon = [];
    for (const notice of soon) this.heard(notice);
  }

  /** A notice was heard (before it is journaled): load its build now if someone will want it. */
  heard(notice: Notice): void {
    const buildId = buildOf(notice);
    if (buildId === null) return;
    const now = performance.now();
    this.expire(now);
    if (this.waiting.size >= this.max || !this.options.listens(notice.channel)) return;
    const key = keyOf(notice.channel, buildId);
    if (this.waiting.has(key)) return;
    const loaders = createLoaders(this.options.db);
    this.waiting.set(key, { loaders, at: now });
    loaders.build.load(buildId).catch(() => {
      loaders.build.clear(buildId);
      if (this.waiting.get(key)?.loaders === loaders) this.waiting.delete(key);
    });
  }

  /** The set loaded for the event of `notice`, if one waits; it is the event's from now on. */
  take(notice: Notice | GapNotice): Loaders | undefined {
    if (this.waiting.size === 0) return undefined;
    const buildId = buildOf(notice);
    if (buildId === null) return undefined;
    const key = keyOf(notice.channel, buildId);
    const found = this.waiting.get(key);
    if (!found) return undefined;
    this.waiting.delete(key);
    if (performance.now() - found.at > this.ttlMs) return undefined;
    return found.loaders;
  }

  /** Drops every set waiting (the instance stops). */
  clear(): void {
    this.waiting.clear();
    this.soon = [];
  }

  private expire(now: number): void {
    // Insertion order is age order.
    for (const [key, { at }] of this.waiting) {
      if (now - at <= this.ttlMs) break;
      this.waiting.delete(key);
    }
  }
}
