/**
 * The backlog: notifications this instance heard and the journal may not hold
 * yet, each keyed by its place in the stream that every listener sees.
 *
 * Postgres delivers notifications to every listening session in the same
 * order, but gives them no identity. Marks give them one: instances NOTIFY
 * `hng_mark` now and then; every listener sees each mark at the same place in
 * the stream, so "the k-th notification after mark M" names the same
 * notification on every instance that heard M. The recorder stores that key
 * with each journal row, so another instance can tell exactly which of the
 * notifications it heard are already journaled (`dropThrough`) and take over
 * recording without losing or repeating one. Notifications heard before this
 * connection saw its first mark have no key; `alignUnkeyed` matches them
 * against the journal's tail by content instead.
 *
 * An instance that reads its LISTEN socket slower than the recorder (it paused
 * it, see listener.ts) can read a journal row it has not heard yet: the row's
 * key is then owed (`owes`), and when it is heard, it and everything before it
 * are dropped, since the journal holds them.
 *
 * Lifecycle: one backlog per instance. `reset` starts a new connection (keys
 * restart: marks seen on the old connection do not carry over) and drops the
 * old connection's entries: another instance that kept listening journals
 * them, or the next recorder writes a gap from the last heartbeat, which
 * precedes them.
 */

/** How many of the latest marks a backlog remembers passing (older keys count as heard). */
const PASSED = 1_024;

/** A notification heard on the LISTEN connection. */
export interface Heard {
  channel: string;
  payload: string;
  receivedAt: Date;
  /**
   * The listener's `syncedAt` when it was heard (the database's clock, ms):
   * it was committed after that instant, so a heartbeat at it claims nothing
   * about this notification.
   */
  floor: number;
  /** The last mark seen before it on this connection, or null. */
  mark: string | null;
  /** How many notifications followed that mark before this one. */
  offset: number | null;
}

/** The entries of one connection, oldest first; see the module contract. */
export class Backlog {
  private entries: Heard[] = [];
  private mark: string | null = null;
  private offset = 0;
  /** The marks passed on this connection, the newest `PASSED` of them, in order. */
  private passed = new Set<string>();
  /** A journaled key not heard yet; see the module contract. */
  private owed: { mark: string; offset: number } | null = null;

  /** How many entries wait. */
  get size(): number {
    return this.entries.length;
  }

  /** The most entries held at once since the backlog was made (memory's high-water mark). */
  peak = 0;

  /** Whether a journaled key waits to be heard (`dropThrough` found it ahead). */
  get owes(): boolean {
    return this.owed !== null;
  }

  /** A mark passed: later notifications are keyed by it. */
  passMark(mark: string): void {
    this.mark = mark;
    this.offset = 0;
    this.passed.add(mark);
    if (this.passed.size > PASSED) this.passed.delete(this.passed.values().next().value!);
  }

  /** Records a notification in stream order; when it is the owed key, drops it and everything before it instead (null). */
  hear(channel: string, payload: string, receivedAt: Date, floor = receivedAt.getTime()): Heard | null {
    const offset = this.mark === null ? null : this.offset++;
    if (this.owed && this.owed.mark === this.mark && this.owed.offset === offset) {
      this.entries = [];
      this.owed = null;
      return null;
    }
    const heard: Heard = { channel, payload, receivedAt, floor, mark: this.mark, offset };
    if (this.entries.push(heard) > this.peak) this.peak = this.entries.length;
    return heard;
  }

  /** A new connection: what the old one heard and nobody journaled is dropped. */
  reset(): void {
    this.entries = [];
    this.mark = null;
    this.offset = 0;
    this.passed.clear();
    this.owed = null;
  }

  /** Whether this connection has passed the key (mark, offset): heard it, whether or not it is still held. */
  passedKey(mark: string | null, offset: number | null): boolean {
    if (mark === null || offset === null || !this.passed.has(mark)) return false;
    return mark !== this.mark || offset < this.offset;
  }

  /** Forgets an owed key (a round trip showed it is not coming on this connection). */
  forgive(): void {
    this.owed = null;
  }

  /**
   * Drops every entry up to and including the one keyed (mark, offset). A
   * key this connection has not reached yet is owed instead (see the contract).
   * @returns whether that key was found (if not, nothing is dropped).
   */
  dropThrough(mark: string | null, offset: number | null): boolean {
    if (mark === null || offset === null) return false;
    if (!this.passed.has(mark) || (mark === this.mark && offset >= this.offset)) {
      this.owed = { mark, offset };
      return false;
    }
    const i = this.entries.findIndex((e) => e.mark === mark && e.offset === offset);
    if (i < 0) return false;
    this.entries.splice(0, i + 1);
    this.owed = null;
    return true;
  }

  /**
   * Drops the leading unkeyed entries that the journal's tail already holds:
   * the longest run of them equal (channel and payload, in order) to the last
   * rows of `tail`. Returns how many were dropped.
   */
  alignUnkeyed(tail: readonly { channel: string; payload: string }[]): number {
    const unkeyed = this.unkeyed;
    for (let n = Math.min(unkeyed, tail.length); n > 0; n--) {
      const start = tail.length - n;
      let same = true;
      for (let i = 0; i < n && same; i++) {
        const row = tail[start + i]!;
        const entry = this.entries[i]!;
        same = row.channel === entry.channel && row.payload === entry.payload;
      }
      if (same) {
        this.entries.splice(0, n);
        return n;
      }
    }
    return 0;
  }

  /** How many of the oldest entries have no key (heard before this connection's first mark). */
  get unkeyed(): number {
    let n = 0;
    while (n < this.entries.length && this.entries[n]!.mark === null) n++;
    return n;
  }

  /** The oldest entry, if any. */
  peek(): Heard | undefined {
    return this.entries[0];
  }

  /** Takes up to `max` entries off the front, for journaling, and any that `together` keeps with the last. */
  take(max: number, together?: (last: Heard, next: Heard) => boolean): Heard[] {
    let n = Math.min(max, this.entries.length);
    // Entries that belong with the last one taken come along, past `max`.
    while (together && n > 0 && n < this.entries.length && together(this.entries[n - 1]!, this.entries[n]!)) n++;
    return this.entries.splice(0, n);
  }

  /** Puts entries back at the front (their journaling failed). */
  putBack(entries: Heard[]): void {
    this.entries.unshift(...entries);
  }
}
