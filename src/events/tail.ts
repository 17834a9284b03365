/**
 * Following the journal from outside the gateway's process, as
 * `hydra-notify-gateway events tail` does: the journaled events after a
 * position, then each new one as the recorder journals it.
 *
 * Contract: events come from `History` (history.ts), so they are the very
 * events a subscription gets, with the same positions and cursors (a cursor
 * printed here resumes a subscription, and the other way round), split
 * build_finished chunks merged, in position order, none skipped or repeated:
 * positions are written by one recorder at a time, in commit order. The
 * filter is a subscription's (filter.ts); gaps always pass. At the end of the
 * journal the tail waits for `wait` (the caller's LISTEN on `hng_journal`, a
 * hint) or `pollMs`, whichever comes first, and reads again. A build_finished
 * whose chunks end the journal is emitted once `chunkWindowMs` passed without
 * a further row, as the live pipeline does. A cursor pruned by retention is
 * CURSOR_EXPIRED before the first event. The caller owns `db`; the tail ends
 * when `signal` aborts (or the consumer stops iterating).
 */
import type { Queryable } from '../db/queryable.js';
import type { Channel } from '../hydra/channels.js';
import { lastPosition } from '../journal/queries/journal.js';
import type { GatewayEvent } from './event.js';
import { checkFilter, type EventFilter } from './filter.js';
import { assertNotExpired, History, wanted } from './history.js';

/** What a tail follows. */
export interface TailOptions {
  /** After this journal position; null: from the journal's current end (only what comes next). */
  after: number | null;
  /** Only these channels (gaps always); null: all. */
  channels: readonly Channel[] | null;
  filter: EventFilter | null;
  /** Resolves true when a hint (new rows) came within `ms`, false when the time passed. */
  wait: (ms: number) => Promise<boolean>;
  /**
   * Longest wait between reads when no hint comes (a hint is only a hint).
   * @default 1_000
   */
  pollMs?: number;
  /**
   * How long a build_finished that ends the journal waits for further chunks.
   * @default 50
   */
  chunkWindowMs?: number;
  signal?: AbortSignal;
  /** Told the position the tail starts after, once it is settled (every event journaled later will come). */
  onStart?: (position: number) => void;
}

/** The events after `options.after`, then new ones as they are journaled; see the module contract. */
export async function* tail(db: Queryable, options: TailOptions): AsyncGenerator<GatewayEvent> {
  checkFilter(options.filter);
  if (options.after !== null) await assertNotExpired(db, options.after);
  const start = options.after ?? (await lastPosition(db));
  options.onStart?.(start);
  const history = new History(db, { after: start, channels: options.channels });
  const pollMs = options.pollMs ?? 1_000;
  const chunkWindowMs = options.chunkWindowMs ?? 50;

  while (!options.signal?.aborted) {
    const page = await history.next();
    yield* await wanted(page.events, options.filter);
    if (page.full) continue;
    if (history.openFrom === null) {
      await options.wait(pollMs);
    } else if (!(await options.wait(chunkWindowMs))) {
      const before = history.position;
      const more = await history.next();
      yield* await wanted(more.events, options.filter);
      // No further row within the window: the split payload is complete (Hydra sends its chunks back to back).
      if (history.position === before) yield* await wanted(history.finish(), options.filter);
    }
  }
}
