/**
 * A writer of steady Hydra-like traffic for tests that must show nothing is
 * lost while something fails: `builds_added` with increasing ids, in
 * transactions as Hydra sends them. It stops after the transaction in flight
 * when asked, and at the end of the test's file at the latest.
 */
import type pg from 'pg';
import { notify } from './database.js';
import { onCleanup } from './gateway.js';

/**
 * Sends builds_added with increasing ids, three per transaction, alternating
 * NOTIFY statements and pg_notify, until stopped (after the file at the latest).
 */
export class Writer {
  /** The first id not sent yet: every id at or above it is sent after this moment. */
  next: number;
  private stopping = false;
  private readonly done: Promise<void>;

  constructor(pool: pg.Pool, first: number) {
    this.next = first;
    this.done = this.run(pool);
    this.done.catch(() => {});
    onCleanup(async () => void (await this.stop().catch(() => 0)));
  }

  private async run(pool: pg.Pool): Promise<void> {
    for (let t = 0; !this.stopping; t++) {
      const ids = [this.next, this.next + 1, this.next + 2];
      this.next += 3;
      await notify(
        pool,
        ids.map((id) => ['builds_added', String(id)] as const),
        t % 2 ? 'function' : 'statement',
      );
    }
  }

  /** Stops after the transaction in flight; returns the last id sent. */
  async stop(): Promise<number> {
    this.stopping = true;
    await this.done;
    return this.next - 1;
  }
}
