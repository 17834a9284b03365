/**
 * Resumable streams: the journaled events after a cursor, then live ones,
 * with no gap and no duplicate at the hand-over.
 *
 * Contract: history is read from the journal in pages through a pipeline of
 * its own (so split build_finished chunks merge as they do live), filtered
 * like live events, gaps delivered or attached exactly as the hub does. When
 * a page reaches the journal's end and that end is at or past what this
 * instance's reader has published, the stream subscribes to the hub in the
 * same tick: every event published before then is in the history already read,
 * and every later one arrives live; live events at or below the last position
 * read are dropped as duplicates. A cursor older than retention fails before
 * anything is delivered (`CURSOR_EXPIRED`), never jumps to "now".
 */
import type { Queryable } from '../db/queryable.js';
import type { Channel } from '../hydra/channels.js';
import { cursorExpired } from '../journal/cursor.js';
import { journalAfter, lastPosition } from '../journal/queries/journal.js';
import { recorderState } from '../journal/queries/recorder.js';
import { silentLog } from '../log.js';
import { type GapNotice, type GatewayEvent, isGap } from './event.js';
import type { Delivery, EventHub, SubscribeOptions } from './hub.js';
import { Pipeline } from './pipeline.js';

/** What a resumable stream needs. */
export interface ResumeOptions extends SubscribeOptions {
  db: Queryable;
  hub: EventHub;
  /** The position of the last event published by this instance's reader. */
  published: () => number;
  /** Resume after this journal position. */
  after: number;
}

const PAGE = 500;

/** Checks that the events after `after` are still journaled; throws CURSOR_EXPIRED. */
export async function assertNotExpired(db: Queryable, after: number): Promise<void> {
  const { prunedThrough } = await recorderState(db);
  if (after < prunedThrough) throw cursorExpired(after, prunedThrough);
}

/** History after `after`, then live; see the module contract. */
export async function* resume(options: ResumeOptions): AsyncGenerator<Delivery> {
  const { db, hub, channels, accept } = options;
  await assertNotExpired(db, options.after);
  const replayed: GatewayEvent[] = [];
  const pipeline = new Pipeline({ db, log: silentLog, chunkWindowMs: Infinity, emit: (e) => replayed.push(e) });
  const wanted = [...channels].filter((c): c is Channel => c !== 'gap');
  let last = options.after;
  let gapBefore: GapNotice | null = null;
  let live: AsyncIterableIterator<Delivery> | null = null;

  async function* drain(): AsyncGenerator<Delivery> {
    for (const event of replayed.splice(0)) {
      if (isGap(event) && !channels.has('gap')) {
        gapBefore = gapBefore ? { channel: 'gap', from: gapBefore.from, to: event.notice.to } : event.notice;
        continue;
      }
      let wantedEvent: boolean;
      try {
        wantedEvent = isGap(event) || !accept || (await accept(event));
      } catch (error) {
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
    for (;;) {
      const end = await lastPosition(db);
      const rows = await journalAfter(db, { after: last, limit: PAGE, channels: wanted, until: end });
      for (const row of rows) pipeline.accept(row);
      last = rows.length === PAGE ? rows.at(-1)!.position : Math.max(last, end);
      if (rows.length < PAGE && last >= options.published()) {
        // Same tick as the check above: nothing can be published in between.
        live = hub.subscribe(options);
        pipeline.flush();
        yield* drain();
        break;
      }
      yield* drain();
    }
    for await (const delivery of live) {
      if (delivery.kind === 'event' && delivery.event.position <= last) continue;
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
