/**
 * CPU time and memory of processes, read from Linux's /proc, so that what a
 * server costs is measured from outside it (asking a saturated server for its
 * own numbers would be answered late).
 *
 * Contract: CPU times are in milliseconds of user + system time over all the
 * process's threads (garbage-collector and libuv threads included), at the
 * kernel's tick resolution (`CLK_TCK`, 10 ms here): measure windows of
 * seconds. Postgres's CPU is the whole cluster's: the postmaster, every live
 * child, and the children that already exited (the postmaster's cumulative
 * `cutime`/`cstime`), so a backend that comes and goes within a window is
 * still counted. Backends are single-threaded, so their CPU is read from
 * `/proc/<pid>/schedstat` (nanoseconds) rather than in ticks: a per-event
 * figure over a few hundred events would otherwise be mostly rounding. A
 * process that is gone reads as `null`, never as zero.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

interface Stat {
  ppid: number;
  /** utime + stime, ms */
  selfMs: number;
  /** cutime + cstime: waited-for children that exited, ms */
  childrenMs: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, so fields[11].
  const num = (i: number) => Number(fields[i] ?? 0);
  return { ppid: num(1), selfMs: (num(11) + num(12)) * TICK_MS, childrenMs: (num(13) + num(14)) * TICK_MS };
}

/** User + system CPU of `pid` since it started, ms; null when it is gone. */
export function cpuMs(pid: number): number | null {
  return readStat(pid)?.selfMs ?? null;
}

/**
 * A task's `schedstat` field in ms (0: time on a core, 1: time waiting on a run queue for one;
 * the kernel counts both in nanoseconds); null when the task is gone.
 */
function schedstatMs(path: string, field: 0 | 1): number | null {
  try {
    return Number(readFileSync(path, 'utf8').split(' ')[field]) / 1e6;
  } catch {
    return null;
  }
}

/** CPU of `pid`'s main thread, ms, at nanosecond resolution; null when it is gone. */
export function threadCpuMs(pid: number): number | null {
  return schedstatMs(`/proc/${pid}/schedstat`, 0);
}

/**
 * How long `pid`'s main thread has waited on a run queue for a core since it started, ms, at
 * nanosecond resolution (`schedstat`'s second field); null when it is gone.
 */
export function threadWaitMs(pid: number): number | null {
  return schedstatMs(`/proc/${pid}/schedstat`, 1);
}

/**
 * CPU of `pid` since it started, all its threads, ms, at nanosecond
 * resolution (each thread's `schedstat`; a thread that already exited is not
 * counted, so use it over short windows of a long-lived process); null when it is gone.
 */
export function processCpuMsFine(pid: number): number | null {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  // A thread that ended meanwhile counts nothing.
  return tasks.reduce((ms, task) => ms + (schedstatMs(`/proc/${pid}/task/${task}/schedstat`, 0) ?? 0), 0);
}

/** Resident and peak resident memory of `pid`, bytes; null when it is gone. */
export function memory(pid: number): { rss: number; peak: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** The pids whose parent is `ppid`. */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.ppid === ppid) out.push(Number(entry));
  }
  return out;
}

/** A reading of one process's CPU per live pid, for later subtraction. */
export type CpuSnapshot = Map<number, number>;

/**
 * CPU of the whole Postgres cluster under `postmasterPid`, ms: postmaster +
 * live children + exited children; with `perPid`, the live children's own.
 */
export function clusterCpu(postmasterPid: number): { totalMs: number; perPid: CpuSnapshot } {
  const postmaster = readStat(postmasterPid);
  if (!postmaster) throw new Error(`postmaster ${postmasterPid} is gone`);
  const perPid: CpuSnapshot = new Map();
  let totalMs = postmaster.selfMs + postmaster.childrenMs;
  for (const pid of childrenOf(postmasterPid)) {
    const ms = threadCpuMs(pid);
    if (ms === null) continue;
    perPid.set(pid, ms);
    totalMs += ms;
  }
  return { totalMs, perPid };
}

/**
 * A window over the cluster's CPU that leaves out the backends of `excluded`
 * pids (the bench's own connections: notifier, probes), so what remains is the
 * server under test plus Postgres's background processes.
 */
export class ClusterCpuWindow {
  private readonly start: { totalMs: number; perPid: CpuSnapshot };

  constructor(
    private readonly postmasterPid: number,
    private readonly excluded: () => readonly number[],
  ) {
    this.start = clusterCpu(postmasterPid);
  }

  /** CPU since the window opened per live child (excluded backends left out), ms. */
  byPid(): Map<number, number> {
    const end = clusterCpu(this.postmasterPid);
    const excluded = new Set(this.excluded());
    const out = new Map<number, number>();
    for (const [pid, ms] of end.perPid) {
      if (excluded.has(pid)) continue;
      const used = ms - (this.start.perPid.get(pid) ?? 0);
      if (used > 0) out.set(pid, used);
    }
    return out;
  }

  /** CPU since the window opened, ms, without the excluded backends. */
  elapsedMs(): number {
    const end = clusterCpu(this.postmasterPid);
    let ms = end.totalMs - this.start.totalMs;
    for (const pid of this.excluded()) {
      const before = this.start.perPid.get(pid) ?? 0;
      const after = end.perPid.get(pid);
      if (after !== undefined) ms -= after - before;
    }
    return Math.max(0, ms);
  }
}

/** A window over one process's CPU. */
export class CpuWindow {
  private readonly startMs: number;

  constructor(private readonly pid: number) {
    this.startMs = cpuMs(pid) ?? NaN;
  }

  /** CPU since the window opened, ms (NaN when the process is gone). */
  elapsedMs(): number {
    return (cpuMs(this.pid) ?? NaN) - this.startMs;
  }
}
