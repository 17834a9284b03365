/**
 * Jittered exponential backoff for reconnect attempts ("full jitter"): attempt
 * n waits a random time in [min, min(max, min·2^n)], so several gateways that
 * lose Postgres together do not reconnect in lock step.
 */

/** Delay before reconnect attempt `attempt` (0-based), in ms. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(minMs + random() * (ceiling - minMs));
}
