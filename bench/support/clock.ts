/**
 * Time for measurements that cross processes, and waiting with deadlines.
 *
 * Contract: `nowUs` reads CLOCK_MONOTONIC (`process.hrtime`), which on Linux
 * is one clock for every process of the machine, so a time stamped by the
 * notifier and one read by a client process can be subtracted. Nothing here
 * busy-waits: timers have about a millisecond of jitter, which the notifier
 * measures and reports as its own lag.
 */

/** Microseconds on the machine-wide monotonic clock. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Resolves when the monotonic clock reaches `us` (at once if it has). */
export function sleepUntilUs(us: number): Promise<void> {
  return sleep((us - nowUs()) / 1000);
}

/** A failure to reach something within its deadline. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** `promise`, or a `TimeoutError` naming `what` after `ms` milliseconds. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${Math.round(ms)} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once `predicate()` holds, checking every `everyMs`; rejects with a
 * `TimeoutError` after `timeoutMs`.
 */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new TimeoutError(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
