/**
 * How busy the whole machine was, from /proc/stat: the bench shares its two
 * cores with whatever else runs (another engineer's tests), and a figure
 * taken while something else ate a core is not worth the same.
 *
 * Contract: `MachineLoad` opens a window; `busyCores()` is the average number
 * of cores busy (user + nice + system + irq + softirq + steal) since then,
 * for every process on the machine, the bench's own included. `foreignCpuAt
 * Start` measures one second before anything of the bench runs: what others
 * use.
 */
import { readFileSync } from 'node:fs';
import { sleep } from './clock.js';

function totals(): { busy: number; all: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, all: busy + idle + iowait };
}

/** A window over the machine's CPU use. */
export class MachineLoad {
  private readonly start = totals();
  private readonly startedAt = performance.now();

  /** Average busy cores since the window opened. */
  busyCores(cores: number): number {
    const end = totals();
    const all = end.all - this.start.all;
    return all > 0 ? ((end.busy - this.start.busy) / all) * cores : NaN;
  }

  /** Seconds since the window opened. */
  get seconds(): number {
    return (performance.now() - this.startedAt) / 1000;
  }
}

/** Busy cores over one second, measured before the bench starts anything. */
export async function idleLoad(cores: number): Promise<number> {
  const window = new MachineLoad();
  await sleep(1000);
  return window.busyCores(cores);
}
