/**
 * When a failed delivery is tried again: a schedule of delays (the n-th entry
 * after the n-th failure), each with ±20 % jitter so that many deliveries
 * failing together do not come back together; after the last, the delivery
 * is dead. A `Retry-After` (seconds or an HTTP date) or GitHub's
 * `X-RateLimit-Reset` (with `X-RateLimit-Remaining: 0`) from the endpoint
 * wins over the schedule, within `maxDelayMs`.
 *
 * Why no retry library: the schedule is durable (each delivery's next attempt
 * is a column, so a restart resumes it); a library's in-process retry loop
 * would forget it. See docs/decisions.md.
 */

/** The default schedule: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h (about 28 h in all), in ms; `HNG_WEBHOOK_RETRY_SCHEDULE` (config.ts) sets another. */
export const DEFAULT_SCHEDULE: readonly number[] = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 43_200_000,
];

/** The delay before attempt `failures + 1`, with jitter; null when no attempt is left. */
export function retryDelay(schedule: readonly number[], failures: number, random: () => number = Math.random): number | null {
  const base = schedule[failures - 1];
  if (base === undefined) return null;
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** How long the endpoint asked to wait, from its response headers, in ms; null when it did not. */
export function askedDelay(headers: Headers, now = Date.now()): number | null {
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null) {
    if (/^\d+$/.test(retryAfter.trim())) return Number(retryAfter.trim()) * 1_000;
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = headers.get('x-ratelimit-reset');
  if (reset !== null && headers.get('x-ratelimit-remaining') === '0' && /^\d+$/.test(reset))
    return Math.max(0, Number(reset) * 1_000 - now);
  return null;
}
