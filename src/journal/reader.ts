/**
 * The reader: every instance tails the journal and publishes what it reads.
 *
 * Contract: live events reach subscribers from the journal, never straight
 * from LISTEN, so every instance delivers the same events with the same
 * positions (cursors), whichever instance recorded them. The reader starts at
 * the journal's end, reads in position order when the recorder's
 * `hng_journal` hint arrives and every `pollMs` as a backstop (a hint is only
 * a hint), one read at a time, and never skips a row: positions are written
 * by one recorder at a time, in commit order. Each row read is also shown to
 * the recorder, so this instance stops owing what another one journaled.
 * The rows this instance's own recorder commits are handed over (`committed`)
 * as a read would return them, and published without reading them back when
 * they follow the last row published (nothing can lie between: positions are
 * the one recorder's); otherwise they are read. Rows handed over while a read
 * runs (the backstop's poll, another instance's hint) wait for it to end and
 * are then published the same way, those the read returned skipped: a poll
 * that happens to run costs them no second read.
 */
import type { Queryable } from '../db/queryable.js';
import type { Log } from '../log.js';
import { type JournalRow, journalAfter, lastPosition } from './queries/journal.js';

/** Where the reader hands rows: the live pipeline (events/pipeline.ts). */
export interface JournalSink {
  /** Rows up to `position` were there before the reader started. */
  startAt(position: number): void;
  /** The next row, in position order. */
  accept(row: JournalRow): void;
}

/** Tails the journal into a sink; see the module contract. */
export class JournalReader {
  private last = 0;
  private reading = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Rows `committed` while a read ran, published when it ends. */
  private held: JournalRow[] = [];

  constructor(
    private readonly options: {
      db: Queryable;
      sink: JournalSink;
      log: Log;
      /** Sees every row read, before it is published. */
      onRow?: (row: JournalRow) => void;
      /** @default 1_000 */
      pollMs?: number;
    },
  ) {}

  /** The position of the last row published. */
  get position(): number {
    return this.last;
  }

  /** Starts at the journal's current end. */
  async start(): Promise<void> {
    this.last = await lastPosition(this.options.db);
    this.options.sink.startAt(this.last);
    this.timer = setInterval(() => this.hint(), this.options.pollMs ?? 1_000);
    this.timer.unref();
  }

  /** New rows may be there: read them. */
  hint(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    void this.read();
  }

  /** Rows this instance's recorder just committed, in position order; see the module contract. */
  committed(rows: readonly JournalRow[]): void {
    if (this.stopped || rows.length === 0) return;
    if (this.reading) {
      for (const row of rows) this.held.push(row);
      return;
    }
    this.publish(rows);
  }

  /** Publishes committed `rows` that follow the last one published; reads when some are missing before them. */
  private publish(rows: readonly JournalRow[]): void {
    const fresh = rows[0]!.position > this.last ? rows : rows.filter((row) => row.position > this.last);
    if (fresh.length === 0) return;
    if (fresh[0]!.position !== this.last + 1) return this.hint();
    try {
      for (const row of fresh) {
        this.options.onRow?.(row);
        this.options.sink.accept(row);
        this.last = row.position;
      }
    } catch (error) {
      this.options.log.warn('publishing journaled rows failed; reading them instead', { error: (error as Error).message });
      this.hint();
    }
  }

  /** Stops reading. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  private async read(): Promise<void> {
    this.reading = true;
    try {
      do {
        this.again = false;
        for (;;) {
          const rows = await journalAfter(this.options.db, { after: this.last, limit: 1_000 });
          for (const row of rows) {
            if (this.stopped) return;
            this.options.onRow?.(row);
            this.options.sink.accept(row);
            this.last = row.position;
          }
          if (rows.length < 1_000) break;
        }
      } while (this.again && !this.stopped);
    } catch (error) {
      this.options.log.warn('journal read failed; retrying on the next hint', { error: (error as Error).message });
    } finally {
      this.reading = false;
    }
    const held = this.held;
    this.held = [];
    if (held.length > 0 && !this.stopped) this.publish(held);
  }
}
