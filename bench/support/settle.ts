/**
 * Waiting for a process to go quiet: a server that is still working off a
 * backlog would charge its CPU to the next phase.
 *
 * Contract: `settle` samples the process's CPU (all its threads, at
 * nanosecond resolution from `schedstat`, so a window may be short) over
 * windows of `windowMs` and resolves true at the first window in which it
 * used at most `busyFraction` of one core; false if that never happened
 * within `capMs` (or the process is gone). A quiet process thus costs one
 * window, 100 ms (it was 250 when CPU was read in 10 ms ticks). It never
 * kills or signals anything.
 */
import { sleep } from './clock.js';
import { processCpuMsFine } from './proc.js';
import { timeStep } from './steps.js';

/** Options of `settle`. */
export interface SettleOptions {
  /** @default 100 */
  windowMs?: number;
  /** @default 0.08 // 8% of a core: 8 ms in a 100 ms window */
  busyFraction?: number;
  /** @default 5_000 */
  capMs?: number;
}

/** Resolves whether `pid` went quiet; see the module contract (its wait is counted as the step "settle"). */
export function settle(pid: number, options: SettleOptions = {}): Promise<boolean> {
  return timeStep('settle', () => settleUntimed(pid, options));
}

async function settleUntimed(pid: number, options: SettleOptions): Promise<boolean> {
  const windowMs = options.windowMs ?? 100;
  const busy = options.busyFraction ?? 0.08;
  const deadline = Date.now() + (options.capMs ?? 5_000);
  let before = processCpuMsFine(pid);
  while (before !== null) {
    await sleep(windowMs);
    const after = processCpuMsFine(pid);
    if (after === null) return false;
    if (after - before <= busy * windowMs) return true;
    if (Date.now() > deadline) return false;
    before = after;
  }
  return false;
}
