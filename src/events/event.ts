/**
 * The event: one journaled Hydra notification (or gap) as it travels through
 * the gateway.
 *
 * Contract: an event is immutable once published, except for its lazily made
 * loader set, which is created by the first subscriber that needs rows and
 * shared by all the others, so N identical subscribers cost one batch of
 * queries per event, and rows are never older than the event. Events read
 * back from the journal together (a page of history) may share one set made
 * for them all (`shared`), so the page's rows load in one batch per table.
 */
import type { Queryable } from '../db/queryable.js';
import type { Channel } from '../hydra/channels.js';
import { createLoaders, type Loaders } from '../hydra/loaders.js';
import type { Notice } from '../hydra/payloads.js';

/** A window in which no gateway instance listened: notifications sent then are lost. */
export interface GapNotice {
  channel: 'gap';
  from: Date;
  to: Date;
}

/** Where an event came from. */
export type EventSource = 'LIVE' | 'RECOVERED';

/** One journal entry, parsed, as published to subscribers. */
export interface GatewayEvent<N extends Notice | GapNotice = Notice | GapNotice> {
  /** The journal position (of the last chunk, for a merged build_finished). */
  readonly position: number;
  readonly channel: N['channel'];
  readonly notice: N;
  /** The raw payload; the chunks of a split `build_finished`, joined by newlines. */
  readonly payload: string;
  /** How many notifications this event merges (split `build_finished` payloads). */
  readonly chunks: number;
  readonly receivedAt: Date;
  /** LIVE: a notification; RECOVERED: read from Hydra's tables after a gap. */
  readonly source: EventSource;
  /**
   * For `build_finished`: the finish it announces (Unix seconds), as read when it was journaled
   * (`notificationpendingsince`, or `stoptime` once cleared), or a consumer's occurrence; unset
   * when the build was not finished then.
   */
  readonly pendingSince?: number;
  /** For a consumer's delivery: whose, and how many times it was delivered. */
  readonly delivery?: { consumer: string; count: number };
  /** The loaders of this event's scope, made on first use. */
  readonly loaders: Loaders;
}

/** The event of one Hydra channel. */
export type EventOf<C extends Channel> = GatewayEvent<Extract<Notice, { channel: C }>>;

/** Makes an event whose loaders query `db` when first used, or are `shared` (a set made for several events). */
export function createEvent<N extends Notice | GapNotice>(
  db: Queryable,
  init: {
    position: number;
    notice: N;
    payload: string;
    receivedAt: Date;
    source: EventSource;
    chunks?: number;
    pendingSince?: number;
    delivery?: { consumer: string; count: number };
  },
  shared?: Loaders,
): GatewayEvent<N> {
  let loaders: Loaders | undefined = shared;
  return {
    position: init.position,
    channel: init.notice.channel,
    notice: init.notice,
    payload: init.payload,
    chunks: init.chunks ?? 1,
    receivedAt: init.receivedAt,
    source: init.source,
    ...(init.pendingSince === undefined ? {} : { pendingSince: init.pendingSince }),
    ...(init.delivery === undefined ? {} : { delivery: init.delivery }),
    get loaders() {
      return (loaders ??= createLoaders(db));
    },
  };
}

/** Whether an event is a gap. */
export function isGap(event: GatewayEvent): event is GatewayEvent<GapNotice> {
  return event.notice.channel === 'gap';
}
