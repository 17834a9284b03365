/**
 * The simulator's random choices.
 *
 * Contract: every decision the simulator makes goes through these helpers and the
 * injected `random` source (a function returning [0, 1) like `Math.random`), so a test
 * can pass a seeded source. Nothing here keeps state.
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** True with probability `p`. */
export function chance(random: Random, p: number): boolean {
  return random() < p;
}

/** An integer in [min, max], both included. */
export function between(random: Random, min: number, max: number): number {
  return min + Math.min(max - min, Math.floor(random() * (max - min + 1)));
}

/** One element of a non-empty list. */
export function pick<T>(random: Random, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  return items[between(random, 0, items.length - 1)] as T;
}

/** Up to `count` distinct elements of `items`, in random order. */
export function sample<T>(random: Random, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const chosen: T[] = [];
  while (chosen.length < count && pool.length > 0) {
    chosen.push(pool.splice(between(random, 0, pool.length - 1), 1)[0] as T);
  }
  return chosen;
}

/** A seeded source (mulberry32), for reproducible runs. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
