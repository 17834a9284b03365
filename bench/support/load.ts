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
import { ClusterCpuWindow } from './proc.js';

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

/**
 * The machine's load during one phase, split into the bench's own CPU (the
 * server and clients as measured by the caller, Postgres, this orchestrator)
 * and everything else: `foreignCores` is what other processes took from the
 * two cores while the phase ran.
 */
export class PhaseLoad {
  private readonly machine = new MachineLoad();
  private readonly postgres: ClusterCpuWindow;
  private readonly self = process.cpuUsage();

  constructor(
    private readonly cores: number,
    postmasterPid: number,
  ) {
    this.postgres = new ClusterCpuWindow(postmasterPid, () => []);
  }

  /** Busy cores overall and by others, given the server's and clients' CPU (ms) in the phase. */
  finish(serverMs: number, clientMs: number): { machineCores: number; foreignCores: number } {
    const seconds = this.machine.seconds;
    const machineCores = this.machine.busyCores(this.cores);
    const self = process.cpuUsage(this.self);
    const ours = serverMs + clientMs + this.postgres.elapsedMs() + (self.user + self.system) / 1000;
    return { machineCores, foreignCores: Math.max(0, machineCores - ours / 1000 / seconds) };
  }
}

/** Other processes taking this many cores during a phase make its figures suspect. */
export const FOREIGN_CORES = 0.3;

/** `note`, with a word about other processes' load when they took `FOREIGN_CORES` or more. */
export function crowdedNote(load: { foreignCores: number }, note?: string): string | undefined {
  const parts = note ? [note] : [];
  if (load.foreignCores >= FOREIGN_CORES) parts.push(`other processes used ${load.foreignCores.toFixed(2)} cores meanwhile`);
  return parts.length ? parts.join('; ') : undefined;
}

/**
 * Waits, before a measured phase, until the machine is quiet: while the
 * bench itself is idle, anything busy is someone else. The machine is read
 * over windows of `windowMs` (250 ms: 50 ticks of /proc/stat on two cores,
 * so the 0.25-core threshold is 12 ticks; on a quiet machine every phase
 * pays one window). Each wait lasts at most `perWaitMs`, and all waits
 * together at most `budgetMs` (then phases run whatever the load, and say so
 * through `PhaseLoad`). `waits` counts the waits that ended quiet, those
 * that ran out of time or budget, and the phases that came after the budget
 * was spent, for the report.
 */
export class QuietGate {
  private spentMs = 0;
  private readonly tally = { quiet: 0, timedOut: 0, budgetSpent: 0 };

  constructor(
    private readonly cores: number,
    private readonly perWaitMs: number,
    private readonly budgetMs: number,
    private readonly threshold = 0.25,
    private readonly windowMs = 250,
  ) {}

  /** Resolves once a window had fewer than `threshold` busy cores, or the wait or budget ran out; returns the ms waited. */
  async wait(onWaiting: (busy: number) => void = () => {}): Promise<number> {
    const started = performance.now();
    let told = false;
    let quiet = false;
    let looked = false;
    while (this.spentMs + (performance.now() - started) < this.budgetMs && performance.now() - started < this.perWaitMs) {
      looked = true;
      const window = new MachineLoad();
      await sleep(this.windowMs);
      const busy = window.busyCores(this.cores);
      if (busy < this.threshold) {
        quiet = true;
        break;
      }
      if (!told) onWaiting(busy);
      told = true;
    }
    const waited = performance.now() - started;
    this.spentMs += waited;
    if (quiet) this.tally.quiet++;
    else if (looked) this.tally.timedOut++;
    else if (this.budgetMs > 0) this.tally.budgetSpent++;
    return waited;
  }

  /** ms spent waiting so far. */
  get spent(): number {
    return this.spentMs;
  }

  /** Waits that found the machine quiet, that gave up (their time or the budget ran out), and phases that found the budget spent. */
  get waits(): { quiet: number; timedOut: number; budgetSpent: number } {
    return { ...this.tally };
  }
}
