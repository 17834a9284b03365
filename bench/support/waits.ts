/**
 * Time the processes of a request/answer loop spent waiting for a core, per
 * request: the client (this process's main thread), the server's main
 * thread, and Postgres (every child of the postmaster: the backends and the
 * background processes). On two cores shared by three busy processes, a
 * request whose round trip is far above the median may be one during which
 * one of them sat on a run queue; this says whether it was.
 *
 * Contract: `mark()` is called before the first request and after each one,
 * outside the timed round trip (it reads one `schedstat` file per process;
 * Postgres's processes are the postmaster's children when the loop was made:
 * a backend started later is not seen, and one that exits counts only while
 * it was read). `slowest(ms, n)` pairs the `n` slowest round trips with the
 * waits between the marks around them, in ms.
 */
import { childrenOf, threadWaitMs } from './proc.js';

/** The waits during one request, ms. */
export interface RequestWaits {
  ms: number;
  client: number;
  server: number;
  postgres: number;
}

/** The loop's waits; see the module contract. */
export class PageWaits {
  private readonly postgresPids: number[];
  private readonly marks: { client: number; server: number; postgres: Map<number, number> }[] = [];

  constructor(
    private readonly serverPid: number,
    postmasterPid: number,
  ) {
    this.postgresPids = childrenOf(postmasterPid);
  }

  /** Reads the waits so far. */
  mark(): void {
    const postgres = new Map<number, number>();
    for (const pid of this.postgresPids) {
      const ms = threadWaitMs(pid);
      if (ms !== null) postgres.set(pid, ms);
    }
    this.marks.push({ client: threadWaitMs(process.pid) ?? NaN, server: threadWaitMs(this.serverPid) ?? NaN, postgres });
  }

  /** The `n` slowest of the round trips `ms` (one per request, in order), each with its waits. */
  slowest(ms: readonly number[], n: number): RequestWaits[] {
    const round = (x: number) => Math.round(x * 100) / 100;
    return ms
      .map((took, i) => ({ took, before: this.marks[i], after: this.marks[i + 1] }))
      .filter((r) => r.before && r.after)
      .sort((a, b) => b.took - a.took)
      .slice(0, n)
      .map(({ took, before, after }) => ({
        ms: round(took),
        client: round(after!.client - before!.client),
        server: round(after!.server - before!.server),
        postgres: round([...after!.postgres].reduce((sum, [pid, ms]) => sum + ms - (before!.postgres.get(pid) ?? ms), 0)),
      }));
  }
}
