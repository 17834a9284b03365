/**
 * A minimal observable for the dashboard's models (the live feed, the
 * views' own state): a model calls `changed()`, and the components that use
 * it re-render once per animation frame at most, however many events
 * arrived in between (a replay delivers hundreds at once).
 */
import { useEffect, useState } from 'preact/hooks';

/** Something components re-render on. */
export class Store {
  private readonly listeners = new Set<() => void>();
  private scheduled = false;

  /** Marks the model changed; listeners run on the next animation frame. */
  protected changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      for (const listener of [...this.listeners]) listener();
    });
  }

  /** Calls `listener` after changes; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Re-renders the calling component whenever `store` changes. */
export function useStore(store: Store): void {
  const [, setTick] = useState(0);
  useEffect(() => store.subscribe(() => setTick((n) => n + 1)), [store]);
}
