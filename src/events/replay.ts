/**
 * Resumable streams: the journaled events after a cursor, then live ones,
 * with no gap and no duplicate at the hand-over.
 *
 * Contract: history is read through `History` (history.ts), filtered like
 * live events, gaps delivered or attached exactly as the hub does. When a
 * page reaches the journal's end and that end is at or past what the live
 * pipeline has settled (emitted everything up to), the stream subscribes to
 * the hub in the same tick: every event emitted before then is in the
 * history already read, and every later one arrives live; live events at or
 * below the last position delivered from history are dropped as duplicates.
 * Chunks still open at the hand-over that the live pipeline has not emitted
 * are left to it, so a split build_finished arrives once, whole.
 * A row-load failure ends the stream with one `error` delivery. Leaving
 * (`return()`) ends the live subscription at once. Call `assertNotExpired`
 * (history.ts) first; it is checked again as pages are read, since
 * retention may prune while a long replay runs.
 */
import type { Queryable } from '../db/queryable.js';
import type { Channel } from '../hydra/channels.js';
import { lastPosition } from '../journal/queries/journal.js';
import { type GapNotice, type GatewayEvent, isGap } from './event.js';
import { assertNotExpired, History } from './history.js';
import type { Delivery, EventHub, SubscribeOptions } from './hub.js';
import { interruptible } from './stream.js';

/** What a resumable stream needs. */
export interface ResumeOptions extends SubscribeOptions {
  db: Queryable;
  hub: EventHub;
  /** Every event up to this position has been emitted live by this instance. */
  published: () => number;
  /** Resume after this journal position. */
  after: number;
}

/** History after `after`, then live; see the module contract. */
export function resume(options: ResumeOptions): AsyncIterableIterator<Delivery> {
  let live: AsyncIterableIterator<Delivery> | null = null;
  let stopped = false;
  return interruptible(
    run(
      options,
      (l) => (live = l),
      () => stopped,
    ),
    () => {
      stopped = true;
      void live?.return?.();
    },
  );
}

async function* run(
  options: ResumeOptions,
  setLive: (live: AsyncIterableIterator<Delivery>) => void,
  stopped: () => boolean,
): AsyncGenerator<Delivery> {
  const { db, hub, channels, accept } = options;
  const history = new History(db, { after: options.after, channels: [...channels].filter((c): c is Channel => c !== 'gap') });
  let delivered = options.after;
  let gapBefore: GapNotice | null = null;
  let failed = false;
  let live: AsyncIterableIterator<Delivery> | null = null;

  async function* drain(events: readonly GatewayEvent[]): AsyncGenerator<Delivery> {
    for (const event of events) {
      delivered = Math.max(delivered, event.position);
      if (isGap(event) && !channels.has('gap')) {
        gapBefore = gapBefore ? { channel: 'gap', from: gapBefore.from, to: event.notice.to } : event.notice;
        continue;
      }
      let wantedEvent: boolean;
      try {
        wantedEvent = isGap(event) || !accept || (await accept(event));
      } catch (error) {
        failed = true;
        yield { kind: 'error', error: error as Error };
        return;
      }
      if (wantedEvent) {
        yield { kind: 'event', event, gapBefore, replayed: true };
        gapBefore = null;
      }
    }
  }

  try {
    while (!stopped()) {
      // Retention may prune while a long replay runs: never skip silently.
      if (history.position > options.after) await assertNotExpired(db, history.position);
      const page = await history.next(await lastPosition(db));
      let events = page.events;
      const caughtUp = !page.full && history.position >= options.published();
      if (caughtUp) {
        // Same tick as the check above: nothing can be emitted live in between.
        live = hub.subscribe(options);
        setLive(live);
        // Left while this page was being read: the interrupt found no live subscription to end.
        if (stopped()) return;
        const open = history.openFrom;
        if (open !== null && open > options.published()) {
          history.discardOpen();
          delivered = Math.max(delivered, open - 1);
        } else {
          events = [...events, ...history.finish()];
        }
      }
      yield* drain(events);
      if (failed) return;
      if (caughtUp) break;
    }
    if (!live) return;
    for await (const delivery of live) {
      if (delivery.kind === 'event' && delivery.event.position <= delivered) continue;
      if (delivery.kind === 'event' && gapBefore && !delivery.gapBefore) {
        yield { ...delivery, gapBefore };
        gapBefore = null;
        continue;
      }
      yield delivery;
    }
  } finally {
    await live?.return?.();
  }
}
