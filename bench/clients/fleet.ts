/**
 * The orchestrator's side of the subscribers: N subscriptions spread over
 * client processes, sockets and subscriptions per socket, driven through
 * phases and merged into one result.
 *
 * Contract: `FleetProcesses.spawn` starts ceil(sockets / socketsPerProcess)
 * client processes (so no process, client or server, nears the ~20,000 open
 * files a process may hold) and resolves once each is up and idle; a bed
 * spawns them while its server starts, since a process starting (tsx
 * compiling) is not the server's time. `connect` then connects them to a
 * server in parallel (the clock of the connect-and-subscribe time starts
 * there); `Fleet.start` does both. `awaitReady` calls a probe
 * (which sends events) until every subscription has received one: only then
 * is a subscription known to be live on the server, and the time from the
 * first connection to that moment is the connect-and-subscribe time.
 * `measure` starts a phase in every process, runs the sender, waits until
 * every expected delivery arrived or the deadline passed, and merges the
 * reports (latency histograms added, not averaged). Every process is
 * stopped by `stop`, and killed with the other children if the run fails.
 */
import { join } from 'node:path';
import { nowUs, sleep, withTimeout } from '../support/clock.js';
import { type Child, spawnChild } from '../support/children.js';
import { Latency, type LatencySummary } from '../support/histogram.js';
import type { Phase, PhaseReport } from './deliveries.js';

/** How to spread a fleet (the server it connects to is given to `connect`). */
export interface FleetPlan {
  transport: 'ws' | 'sse';
  query: string;
  subscribers: number;
  subsPerSocket: number;
  socketsPerProcess: number;
  /** Handshakes in flight per process. @default 64 */
  concurrency?: number;
  logDir: string;
  /** Prefix of the processes' names and log files. */
  name: string;
}

/** The merged outcome of one phase. */
export interface PhaseResult {
  expected: number;
  deliveries: number;
  /** Every expected delivery arrived before the deadline. */
  complete: boolean;
  firstUs: number | null;
  lastUs: number | null;
  latency: LatencySummary | null;
  invalid: number;
  errors: number;
  ended: number;
  /** CPU of all client processes during the phase, ms. */
  clientCpuMs: number;
  firstErrors: string[];
}

type Report = PhaseReport & { firstErrors: string[] };

/** A connected fleet of subscribers. */
export class Fleet {
  private constructor(
    private readonly children: Child[],
    private readonly perChild: number[],
    /** When the first connection was started, µs. */
    readonly startedUs: number,
    /** ms until every socket was open and every subscribe sent. */
    readonly connectMs: number,
    private readonly readyAtUs: (number | null)[],
    private readonly subsPerSocket: number,
  ) {}

  /** Spawns the processes and connects them to `url`; see the module contract. */
  static async start(plan: FleetPlan, url: string, timeoutMs: number): Promise<Fleet> {
    return (await FleetProcesses.spawn(plan)).connect(url, timeoutMs);
  }

  /** Connects spawned processes to `url` (through `FleetProcesses.connect`). */
  static async connect(processes: FleetProcesses, url: string, timeoutMs: number): Promise<Fleet> {
    const { plan, children, perChild, readyAtUs, sockets } = processes;
    const startedUs = nowUs();
    const connected = await Promise.all(
      children.map((child, i) =>
        child.request<{ failed: number; firstError: string | null; ms: number }>(
          'connect',
          {
            plan: {
              url,
              query: plan.query,
              sockets: perChild[i],
              subsPerSocket: plan.subsPerSocket,
              concurrency: plan.concurrency ?? 64,
            },
          },
          timeoutMs,
        ),
      ),
    );
    const failed = connected.reduce((n, c) => n + c.failed, 0);
    const fleet = new Fleet(children, perChild, startedUs, (nowUs() - startedUs) / 1000, readyAtUs, plan.subsPerSocket);
    if (failed > 0) {
      await fleet.stop();
      throw new Error(`${failed} of ${sockets} connections failed (${connected.find((c) => c.firstError)?.firstError})`);
    }
    return fleet;
  }

  /** Pids of the client processes. */
  get pids(): number[] {
    return this.children.map((c) => c.pid);
  }

  /** How many subscriptions have received an event so far. */
  async readyCount(): Promise<number> {
    const statuses = await Promise.all(this.children.map((c) => c.request<{ ready: number }>('status')));
    return statuses.reduce((n, s) => n + s.ready, 0);
  }

  /**
   * Sends one probe event at a time until every subscription received one: the
   * next probe only once arrivals stopped for `quietMs` (so a slow server is not
   * buried under probes). Resolves with ms from the first connection to the
   * moment the last subscription received its first event.
   */
  async awaitReady(probe: () => Promise<void>, timeoutMs: number, quietMs = 300): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.readyAtUs.every((at) => at !== null)) {
      if (Date.now() > deadline) {
        const reports = await Promise.all(this.children.map((c) => c.request<Report>('report')));
        throw new Error(
          `only ${reports.reduce((n, s) => n + s.ready, 0)} of ${this.subscribers} subscriptions live after ${timeoutMs} ms (${reports.flatMap((s) => s.firstErrors).join('; ')})`,
        );
      }
      await probe();
      let last = -1;
      let stableSince = Date.now();
      while (!this.readyAtUs.every((at) => at !== null) && Date.now() < deadline) {
        await sleep(50);
        const ready = await this.readyCount();
        if (ready !== last) {
          last = ready;
          stableSince = Date.now();
        } else if (Date.now() - stableSince >= quietMs) break;
      }
    }
    return (Math.max(...(this.readyAtUs as number[])) - this.startedUs) / 1000;
  }

  /** Subscriptions of the fleet. */
  get subscribers(): number {
    return this.perChild.reduce((n, sockets) => n + sockets * this.subsPerSocket, 0);
  }

  /**
   * Runs one phase: every process counts `phase`, `send` sends its events,
   * and the result is merged once every delivery arrived or `deadlineMs` after
   * `send` resolved.
   */
  async measure(phase: Phase, send: () => Promise<void>, deadlineMs: number): Promise<PhaseResult> {
    await Promise.all(this.children.map((c) => c.request('phase', { phase })));
    const done = this.children.map((child) => child.waitForEvent('phase-done', 86_400_000, (e) => e.phase === phase.name).then(() => true));
    // Avoid unhandled rejections of the waits that lose the race below.
    for (const d of done) d.catch(() => {});
    await send();
    await withTimeout(Promise.all(done), deadlineMs, 'deliveries').catch(() => {});
    const reports = await Promise.all(this.children.map((c) => c.request<Report>('report')));
    const latency = new Latency();
    let hasLatency = false;
    for (const r of reports) {
      if (r.latency) {
        latency.addEncoded(r.latency);
        hasLatency = true;
      }
    }
    const expected = this.subscribers * phase.count;
    const deliveries = reports.reduce((n, r) => n + r.deliveries, 0);
    const firsts = reports.map((r) => r.firstUs).filter((v): v is number => v !== null);
    const lasts = reports.map((r) => r.lastUs).filter((v): v is number => v !== null);
    return {
      expected,
      deliveries,
      complete: deliveries === expected,
      firstUs: firsts.length ? Math.min(...firsts) : null,
      lastUs: lasts.length ? Math.max(...lasts) : null,
      latency: hasLatency ? latency.summary() : null,
      invalid: reports.reduce((n, r) => n + r.invalid, 0),
      errors: reports.reduce((n, r) => n + r.errors, 0),
      ended: reports.reduce((n, r) => n + r.ended, 0),
      clientCpuMs: reports.reduce((n, r) => n + r.cpuMs, 0),
      firstErrors: reports.flatMap((r) => r.firstErrors).slice(0, 5),
    };
  }

  /** Stops every client process (killing those that do not stop in time). */
  async stop(): Promise<void> {
    await Promise.allSettled(this.children.map((c) => c.stop(5_000)));
  }
}

/** A fleet's client processes, up and idle, not yet connected; see the module contract. */
export class FleetProcesses {
  private constructor(
    readonly plan: FleetPlan,
    readonly children: Child[],
    readonly perChild: number[],
    readonly sockets: number,
    /** When each process reported every subscription live, µs (filled in once connected). */
    readonly readyAtUs: (number | null)[],
  ) {}

  /** Spawns the processes of `plan` and waits until each answers. */
  static async spawn(plan: FleetPlan): Promise<FleetProcesses> {
    const sockets = Math.ceil(plan.subscribers / plan.subsPerSocket);
    const processes = Math.max(1, Math.ceil(sockets / plan.socketsPerProcess));
    const children: Child[] = [];
    const perChild: number[] = [];
    for (let i = 0; i < processes; i++) {
      const mine = Math.floor(sockets / processes) + (i < sockets % processes ? 1 : 0);
      perChild.push(mine);
      children.push(
        spawnChild({
          name: `${plan.name}-${i}`,
          entry: `clients/${plan.transport}.ts`,
          logFile: join(plan.logDir, `${plan.name}-${i}.log`),
        }),
      );
    }
    const readyAtUs: (number | null)[] = children.map(() => null);
    children.forEach((child, i) =>
      child.onEvent((e) => {
        if (e.name === 'ready') readyAtUs[i] = Number(e.atUs);
      }),
    );
    try {
      await Promise.all(children.map((child) => child.request('status', {}, 60_000)));
    } catch (error) {
      await Promise.allSettled(children.map((c) => c.stop(5_000)));
      throw error;
    }
    return new FleetProcesses(plan, children, perChild, sockets, readyAtUs);
  }

  /** Connects every process to `url`: the fleet from then on. */
  connect(url: string, timeoutMs: number): Promise<Fleet> {
    return Fleet.connect(this, url, timeoutMs);
  }

  /** Stops the processes (for a fleet never connected; a connected one is stopped through `Fleet.stop`). */
  async stop(): Promise<void> {
    await Promise.allSettled(this.children.map((c) => c.stop(5_000)));
  }
}
