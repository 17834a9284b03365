/**
 * Hints for consumer subscriptions: "occurrences of consumer X may have
 * changed" (a redelivery, a pause or resume, a removal, a reconciliation that
 * added some, leases released by a subscription that ended), sent on
 * `hng_consumer` by whichever instance made the change and heard by all.
 * A hint only wakes a subscription to look; the table is the truth.
 */

/** Fans `hng_consumer` hints out to the waiting subscriptions of this instance. */
export class ConsumerHints {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Wakes the subscriptions of `consumer`. */
  emit(consumer: string): void {
    for (const wake of this.waiters.get(consumer) ?? []) wake();
  }

  /** Calls `wake` on every hint for `consumer` until the returned function is called. */
  on(consumer: string, wake: () => void): () => void {
    let set = this.waiters.get(consumer);
    if (!set) this.waiters.set(consumer, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0) this.waiters.delete(consumer);
    };
  }
}
