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
 *
 * A subscription found slow (events.hub.ts) is logged; if its connection
 * still holds unsent bytes `STALLED_MS` later, the client stopped reading
 * altogether and the connection is cut (`transport.close`, WebSocket close
 * code 4008 with the SLOW_CONSUMER reason): the in-band error could not reach
 * it, and the socket's buffers would stay in this process's memory.
 */
import type { Queryable } from '../db/queryable.js';
import type { Log } from '../log.js';
import type { Channel } from '../hydra/channels.js';
import { decodeCursor } from '../journal/cursor.js';
import type { GatewayEvent } from './event.js';
import { checkFilter, type EventFilter, matches } from './filter.js';
import { assertNotExpired } from './history.js';
import type { Delivery, EventHub, SubscribeOptions } from './hub.js';
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
  /** Bound of what a subscription's connection may hold unsent. */
  maxBufferedBytes: number;
  log: Log;
}

/**
 * The connection a subscription's events leave on: how many bytes it holds
 * that the client has not taken yet, and how to cut it when the client stopped
 * reading for good.
 */
export interface Transport {
  kind: 'http' | 'ws';
  /** An HTTP response that is an SSE stream (the delivery metrics count it so; logs name it `http`, as every HTTP response). */
  eventStream?: boolean;
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
  /** The connection its events leave on. */
  transport?: Transport | null;
}

/**
 * A connection that still holds unsent bytes this long after one of its
 * subscriptions was found slow is cut: its client stopped reading, not merely
 * fell behind (one that resumes before gets the in-band SLOW_CONSUMER error).
 * @default 10_000 // 10 seconds
 */
export const STALLED_MS = 10_000;

/** Each list of channels as a set, made once: every subscriber of one field asks for the same. */
const channelSets = new Map<string, ReadonlySet<Channel | 'gap'>>();

function channelSet(channels: readonly (Channel | 'gap')[]): ReadonlySet<Channel | 'gap'> {
  const key = channels.join(',');
  let set = channelSets.get(key);
  if (!set) channelSets.set(key, (set = new Set(channels)));
  return set;
}

/**
 * How one subscription wants events from the hub. A class: a subscriber
 * holds this one object, and its methods are shared.
 */
class StreamOptions implements SubscribeOptions {
  readonly channels: ReadonlySet<Channel | 'gap'>;
  readonly limit: number;
  readonly maxLagMs: number;
  readonly maxBufferedBytes: number;

  constructor(
    private readonly source: StreamSource,
    private readonly request: StreamRequest,
  ) {
    this.channels = channelSet(request.channels);
    this.limit = source.queueLimit;
    this.maxLagMs = source.maxLagMs;
    this.maxBufferedBytes = source.maxBufferedBytes;
  }

  accept(event: GatewayEvent): boolean | Promise<boolean> {
    return matches(event, this.request.filter);
  }

  buffered(): number {
    return this.request.transport?.buffered() ?? 0;
  }

  onSlow(why: string): void {
    const { source, request } = this;
    const { transport } = request;
    source.log.warn('subscription ended: slow client', { channels: request.channels.join(','), transport: transport?.kind ?? 'none', why });
    if (!transport || transport.buffered() === 0) return;
    setTimeout(() => {
      if (transport.buffered() === 0) return;
      source.log.warn('cut a connection that stopped reading', { transport: transport.kind, unsent: transport.buffered() });
      transport.close(`SLOW_CONSUMER: ${why}`);
    }, STALLED_MS).unref();
  }
}

/** The deliveries of one subscription; see the module contract. */
export async function openStream(source: StreamSource, request: StreamRequest): Promise<AsyncIterableIterator<Delivery>> {
  checkFilter(request.filter);
  const options = new StreamOptions(source, request);
  const cursor = request.resumeAfter ?? request.after ?? null;
  if (cursor === null) return source.hub.subscribe(options);
  const position = decodeCursor(cursor);
  await assertNotExpired(source.db, position);
  return resume({
    channels: options.channels,
    limit: options.limit,
    maxLagMs: options.maxLagMs,
    maxBufferedBytes: options.maxBufferedBytes,
    accept: (event) => options.accept(event),
    buffered: () => options.buffered(),
    onSlow: (why) => options.onSlow(why),
    db: source.db,
    hub: source.hub,
    published: source.published,
    after: position,
  });
}
