/**
 * Build ids for events. Every phase gets ids no earlier phase used (until the
 * seeded range wraps), so a late frame of one phase is never counted in the
 * next: clients tell events apart by build id alone.
 */

/** Hands out consecutive ranges of the seeded build ids 1..last. */
export class IdRanges {
  private next = 1;

  constructor(private readonly last: number) {}

  /** The first id of a fresh range of `count` ids. */
  take(count: number): number {
    if (count > this.last / 4) throw new Error(`a phase of ${count} events needs more than the ${this.last} seeded builds allow`);
    if (this.next + count - 1 > this.last) this.next = 1;
    const first = this.next;
    this.next += count;
    return first;
  }
}
