/**
 * Where a bench run's wall time goes, by step: the measured phases are a
 * minority of it, and the rest (starting servers and fleets, cloning
 * databases, waiting for quiet) is what a faster run cuts.
 *
 * Contract: `timeStep(step, fn)` runs `fn` and adds its wall time to `step`'s
 * total, even when it throws; `addStep` adds a duration measured elsewhere.
 * Steps may nest (a server's start inside a bed's opening), so the totals
 * overlap and need not add up to the run's wall time; each step is counted
 * once per call. `stepTimes()` is the totals in seconds, largest first, with
 * how many times each ran, for the JSON report and the printed summary.
 */

const totals = new Map<string, { ms: number; count: number }>();

/** Adds `ms` of wall time to `step`. */
export function addStep(step: string, ms: number): void {
  const t = totals.get(step) ?? { ms: 0, count: 0 };
  t.ms += ms;
  t.count++;
  totals.set(step, t);
}

/** Runs `fn`, adding its wall time to `step`; see the module contract. */
export async function timeStep<T>(step: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    addStep(step, performance.now() - started);
  }
}

/** Every step's total wall time (s) and count, largest first. */
export function stepTimes(): Record<string, { seconds: number; count: number }> {
  return Object.fromEntries(
    [...totals].sort((a, b) => b[1].ms - a[1].ms).map(([step, t]) => [step, { seconds: Math.round(t.ms) / 1000, count: t.count }]),
  );
}
