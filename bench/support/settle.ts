/**
 * Waiting for a process to go quiet: a server that is still working off a
 * backlog would charge its CPU to the next phase.
 *
 * Contract: `settle` samples the process's CPU over windows of `windowMs` and
 * resolves true at the first window in which it used at most `busyFraction`
 * of one core; false if that never happened within `capMs` (or the process
 * is gone). It never kills or signals anything.
 */
import { sleep } from './clock.js';
import { cpuMs } from './proc.js';
import { timeStep } from './steps.js';

/** Options of `settle`. */
export interface SettleOptions {
  /** @default 250 */
  windowMs?: number;
  /** @default 0.08 // 8% of a core: 2 ticks of /proc in a 250 ms window */
  busyFraction?: number;
  /** @default 5_000 */
  capMs?: number;
}

/** Resolves whether `pid` went quiet; see the module contract (its wait is counted as the step "settle"). */
export function settle(pid: number, options: SettleOptions = {}): Promise<boolean> {
  return timeStep('settle', () => settleUntimed(pid, options));
}

async function settleUntimed(pid: number, options: SettleOptions): Promise<boolean> {
  const windowMs = options.windowMs ?? 250;
  const busy = options.busyFraction ?? 0.08;
  const deadline = Date.now() + (options.capMs ?? 5_000);
  let before = cpuMs(pid);
  while (before !== null) {
    await sleep(windowMs);
    const after = cpuMs(pid);
    if (after === null) return false;
    if (after - before <= busy * windowMs) return true;
    if (Date.now() > deadline) return false;
    before = after;
  }
  return false;
}
