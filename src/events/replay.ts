/**
 * Resumable streams: the journaled events after a cursor, then live ones,
 * with no gap and no duplicate at the hand-over.
 *
 * Contract: history is read from the journal in pages through a pipeline of
 * its own (so split build_finished chunks merge as they do live), filtered
 * like live events, gaps delivered or attached exactly as the hub does. When
 * a page reaches the journal's end and that end is at or past what the live
 * pipeline has settled (emitted everything up to), the stream subscribes to
 * the hub in the same tick: every event emitted before then is in the
 * history already read, and every later one arrives live; live events at or
 * below the last position delivered from history are dropped as duplicates.
 * Chunks still open at the hand-over that the live pipeline has not emitted
 * are left to it, so a split build_finished arrives once, whole.
 * A row-load failure ends the stream with one `error` delivery. Leaving
 * (`return()`) ends the live subscription at once. Call `assertNotExpired`
 * first: a cursor older than retention is `CURSOR_EXPIRED`, never a jump to
 * "now".
 */
import { GraphQLError } from 'graphql';
import type { Queryable } from '../db/queryable.js';
import type { Channel } from '../hydra/channels.js';
import { cursorExpired } from '../journal/cursor.js';
import { journalAfter, lastPosition } from '../journal/queries/journal.js';
import { recorderState } from '../journal/queries/recorder.js';
import { silentLog } from '../log.js';
import { type GapNotice, type GatewayEvent, isGap } from './event.js';
import type { Delivery, EventHub, SubscribeOptions } from './hub.js';
import { Pipeline } from './pipeline.js';
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

const PAGE = 500;

/**
 * Checks that the events after `after` are still journaled (CURSOR_EXPIRED
 * otherwise) and that `after` is a position the journal has reached
 * (BAD_USER_INPUT otherwise: such a cursor would hide events yet to come).
 */
export async function assertNotExpired(db: Queryable, after: number): Promise<void> {
  const { prunedThrough } = await recorderState(db);
  if (after < prunedThrough) throw cursorExpired(after, prunedThrough);
  if (after > (await lastPosition(db))) {
    throw new GraphQLError('this cursor is ahead of the journal: it was not issued by this gateway', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
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
  const replayed: GatewayEvent[] = [];
  const pipeline = new Pipeline({ db, log: silentLog, chunkWindowMs: Infinity, emit: (e) => replayed.push(e) });
  const wanted = [...channels].filter((c): c is Channel => c !== 'gap');
  let read = options.after;
  let delivered = options.after;
  let gapBefore: GapNotice | null = null;
  let failed = false;
  let live: AsyncIterableIterator<Delivery> | null = null;

  async function* drain(): AsyncGenerator<Delivery> {
    for (const event of replayed.splice(0)) {
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
        yield { kind: 'event', event, gapBefore };
        gapBefore = null;
      }
    }
  }

  try {
    while (!stopped()) {
      // Retention may prune while a long replay runs: never skip silently.
      if (read > options.after) await assertNotExpired(db, read);
      const end = await lastPosition(db);
      const rows = await journalAfter(db, { after: read, limit: PAGE, channels: wanted, until: end });
      for (const row of rows) pipeline.accept(row);
      read = rows.length === PAGE ? rows.at(-1)!.position : Math.max(read, end);
      const caughtUp = rows.length < PAGE && read >= options.published();
      if (caughtUp) {
        // Same tick as the check above: nothing can be emitted live in between.
        live = hub.subscribe(options);
        setLive(live);
        // Left while this page was being read: the interrupt found no live subscription to end.
        if (stopped()) return;
        const open = pipeline.openFrom;
        if (open !== null && open > options.published()) {
          pipeline.discardOpen();
          delivered = Math.max(delivered, open - 1);
        } else {
          pipeline.flush();
        }
      }
      yield* drain();
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
