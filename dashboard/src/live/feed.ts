/**
 * The page's live feed: one `events` subscription (every channel) over the
 * connection, feeding the Live board, the Stream view's list of every event,
 * and whoever else listens (Delivery refreshes on finishes, History saves the
 * newest cursor for "since my last visit").
 *
 * Contract:
 * - At start the feed reaches back `BACKFILL_MS` into the journal: it asks
 *   for the first event since then (one `events` query), applies it and
 *   subscribes with `after` its cursor, so the gateway replays the rest and
 *   then goes live: the board starts with what is queued and building now.
 *   With nothing in that window it subscribes live, and asks again on each
 *   reconnect until it has a cursor.
 * - After a reconnect the subscription resumes after the last cursor it
 *   delivered (connection.ts): no event twice, none missed.
 * - The feed keeps the newest `KEEP` events (the Stream view shows them
 *   all); older ones are dropped from the page, never from the journal
 *   (History reads it).
 * - An error that ends the subscription for good (CURSOR_EXPIRED after a
 *   very long disconnection) is kept in `failure`, and the feed starts over
 *   from the backfill window.
 */
import type { Connection, Stream } from '../api/connection';
import { type EventFieldsFragment, JournalPageDocument, LiveEventsDocument } from '../api/generated';
import { run } from '../api/http';
import { Store } from '../store';
import { Board } from './board';

/** How far back the feed starts. */
export const BACKFILL_MS = 10 * 60_000;
/** How many events the page keeps. */
export const KEEP = 5_000;

/** The live feed; see the module's contract. */
export class LiveFeed extends Store {
  /** Oldest first. */
  readonly events: EventFieldsFragment[] = [];
  /** How many older events were dropped to keep `KEEP`. */
  dropped = 0;
  readonly board = new Board();
  /** Why the subscription ended, when it ended with an error. */
  failure: string | null = null;
  private readonly eventListeners = new Set<(event: EventFieldsFragment) => void>();
  private stream: Stream | null = null;

  constructor(private readonly connection: Connection) {
    super();
    this.start(Date.now() - BACKFILL_MS);
  }

  /** The cursor of the newest event delivered, or null. */
  get lastCursor(): string | null {
    return this.stream?.lastCursor ?? null;
  }

  /** Calls `listener` with each event as it arrives; returns the unsubscribe. */
  onEvent(listener: (event: EventFieldsFragment) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  private start(sinceMs: number): void {
    this.stream = this.connection.stream({
      document: LiveEventsDocument,
      variables: async (lastCursor) => ({ after: lastCursor ?? (await this.backfill(sinceMs)) }),
      cursorOf: (data) => data.events.cursor,
      next: (data) => this.add(data.events),
      error: (errors) => {
        this.failure = errors.map((e) => e.message).join('; ');
        this.changed();
        this.start(Date.now() - BACKFILL_MS);
      },
    });
  }

  /** The first event since `sinceMs`, applied; its cursor, or null when there is none. */
  private async backfill(sinceMs: number): Promise<string | null> {
    const page = await run(JournalPageDocument, { first: 1, since: new Date(sinceMs).toISOString() });
    const first = page.events.edges[0];
    if (!first) return null;
    this.add(first.node);
    return first.cursor;
  }

  private add(event: EventFieldsFragment): void {
    this.events.push(event);
    if (this.events.length > KEEP) {
      const extra = this.events.length - KEEP;
      this.events.splice(0, extra);
      this.dropped += extra;
    }
    this.board.apply(event);
    for (const listener of this.eventListeners) listener(event);
    this.changed();
  }
}
