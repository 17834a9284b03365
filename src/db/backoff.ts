/**
 * Jittered exponential backoff for what waits on the database to come back
 * (the LISTEN connection's reconnects, a consumer subscription's claims):
 * attempt n waits a random time in [min, min(max, min·2^n)], so several
 * gateways or subscriptions that lose Postgres together do not retry in lock
 * step.
 */

/** Delay before attempt `attempt` (0-based), in ms. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(minMs + random() * (ceiling - minMs));
}
