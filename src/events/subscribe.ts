/**
 * Opening a subscription's stream of deliveries: live from the hub, or
 * resumed from the journal after a cursor.
 *
 * Contract: the cursor is checked before anything is returned, so the
 * subscribe itself fails (BAD_USER_INPUT for a malformed cursor or one ahead
 * of the journal, CURSOR_EXPIRED for one pruned by retention) rather than the
 * stream later. The subscriber's filter runs in the hub (or the replay), on
 * the event's own loaders. An SSE client's `Last-Event-ID` is passed as
 * `resumeAfter` and wins over the `after` argument: an EventSource
 * reconnects to the same URL (same `after`) with a newer Last-Event-ID.
 */
import type { Queryable } from '../db/queryable.js';
import type { Channel } from '../hydra/channels.js';
import { decodeCursor } from '../journal/cursor.js';
import type { GatewayEvent } from './event.js';
import { type EventFilter, matches } from './filter.js';
import { assertNotExpired } from './history.js';
import type { Delivery, EventHub } from './hub.js';
import { resume } from './replay.js';

/** What every subscription of one gateway shares. */
export interface StreamSource {
  db: Queryable;
  hub: EventHub;
  /** Every event up to this position has been published live by this instance. */
  published: () => number;
  /** Queue bound of each subscription. */
  queueLimit: number;
  /** Age bound of the oldest event waiting for a subscription. */
  maxLagMs: number;
}

/**
 * The connection a subscription's events leave on: how many bytes it holds
 * that the client has not taken yet, and how to cut it when the client stopped
 * reading for good.
 */
export interface Transport {
  kind: 'http' | 'ws';
  buffered(): number;
  close(reason: string): void;
}

/** What one subscription asks for. */
export interface StreamRequest {
  channels: readonly (Channel | 'gap')[];
  filter?: EventFilter | null;
  /** The `after` argument: a journal cursor. */
  after?: string | null;
  /** SSE `Last-Event-ID`: wins over `after`. */
  resumeAfter?: string | null;
}

/** The deliveries of one subscription; see the module contract. */
export async function openStream(source: StreamSource, request: StreamRequest): Promise<AsyncIterableIterator<Delivery>> {
  const options = {
    channels: new Set(request.channels),
    limit: source.queueLimit,
    maxLagMs: source.maxLagMs,
    accept: (event: GatewayEvent) => matches(event, request.filter),
  };
  const cursor = request.resumeAfter ?? request.after ?? null;
  if (cursor === null) return source.hub.subscribe(options);
  const position = decodeCursor(cursor);
  await assertNotExpired(source.db, position);
  return resume({ ...options, db: source.db, hub: source.hub, published: source.published, after: position });
}
