/**
 * Exclusive turns on one dedicated `pg.Client`: the LISTEN connection's and
 * the recorder's, whose statements must never overlap.
 *
 * Contract:
 * - `run(fn)` gives `fn` the connection to itself (a whole transaction, or
 *   one statement), after every turn queued before it, so a statement never
 *   runs inside another caller's transaction and pg never sees a second
 *   query while one executes (pg 9 refuses that).
 * - A turn belongs to the connection it started on: once `current()` says
 *   the owner moved on to another connection (after a reconnect), a
 *   statement of an old turn fails rather than run anywhere.
 * - `lastProgress` is when a statement last completed (this machine's
 *   clock), for the owner's stall checks; `onAnswered` hears the time each
 *   answered statement was sent.
 * - One `Turns` per connection, made when it connects and dropped with it;
 *   it never closes the client (its owner does).
 */
import type pg from 'pg';
import type { Queryable } from './queryable.js';

/** A connection's queue of exclusive turns; see the module contract. */
export class Turns {
  /** Settles when the last turn queued so far has ended. */
  private tail: Promise<unknown> = Promise.resolve();
  /** When a statement on it last completed (this machine's clock, ms). */
  lastProgress = Date.now();
  private readonly db: Queryable;

  constructor(
    readonly client: pg.Client,
    /** Names the connection in errors ("the LISTEN connection was lost"). */
    private readonly label: string,
    /** Whether this is still the owner's connection. */
    private readonly current: () => boolean,
    /** Called after each answered statement with the time (this machine's clock, ms) it was sent. */
    private readonly onAnswered?: (sentAtMs: number) => void,
  ) {
    this.db = { query: (text, values) => this.statement(text, values) };
  }

  /**
   * Runs `fn` with the connection to itself, after every turn queued before
   * it. `fn` must use the `db` it is given (calling `run` again from inside
   * would wait for itself).
   */
  run<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    const turn = this.tail.then(() => fn(this.db));
    this.tail = turn.catch(() => {});
    return turn;
  }

  private async statement(text: Parameters<Queryable['query']>[0], values?: unknown[]): Promise<pg.QueryResult> {
    if (!this.current()) throw new Error(`the ${this.label} connection was lost`);
    const sentAt = Date.now();
    const result = await this.client.query(text, values);
    this.lastProgress = Date.now();
    this.onAnswered?.(sentAt);
    return result;
  }
}
