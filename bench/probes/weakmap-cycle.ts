/**
 * Whether V8's young-generation collector frees the entries of a long-lived
 * WeakMap whose values refer to their keys, the shape of Pothos scope-auth's
 * cache of contexts (the reason for src/server/release.ts). Prints what a
 * scavenge leaves alive of 5,000 such young entries, against 5,000 whose
 * values do not refer to their keys, and the old generation before and after
 * a full collection. If the two first figures come out alike on a new Node,
 * the release is no longer needed for memory.
 *
 * Run: `node --expose-gc --import tsx bench/probes/weakmap-cycle.ts`.
 */
import { getHeapSpaceStatistics } from 'node:v8';

const gc = (globalThis as { gc?: (options?: { type: 'minor' | 'major' }) => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const used = (space: string) => getHeapSpaceStatistics().find((s) => s.space_name === space)!.space_used_size;
const KB = (bytes: number) => `${Math.round(bytes / 1024)} KB`;

const cache = new WeakMap<object, object>();
// Two scavenges and a full collection: the map is in the old generation, as a module's is.
gc({ type: 'minor' });
gc({ type: 'minor' });
gc();

function fill(valueHoldsKey: boolean): void {
  for (let i = 0; i < 5_000; i++) {
    const key = { i, pad: new Array(20).fill(i) };
    cache.set(key, valueHoldsKey ? { key, data: new Array(50).fill(i) } : { data: new Array(50).fill(i) });
  }
}

setTimeout(() => {
  gc({ type: 'minor' });
  fill(false);
  gc({ type: 'minor' });
  console.log(`values without their keys: ${KB(used('new_space'))} young after a scavenge`);
  gc();
  fill(true);
  gc({ type: 'minor' });
  console.log(`values holding their keys: ${KB(used('new_space'))} young after a scavenge`);
  gc({ type: 'minor' });
  const before = used('old_space');
  gc();
  console.log(`old generation: ${KB(before)} after a second scavenge, ${KB(used('old_space'))} after a full collection`);
}, 10);
