/**
 * What one client process received: per subscription whether it has seen an
 * event yet (to know every subscription is live), and per measured phase the
 * deliveries, their first and last arrival, and their NOTIFY-to-client
 * latency in an HDR histogram.
 *
 * Contract: events are told apart by build id. A phase names a range of ids
 * (`firstId`, `count`) and, for open-loop phases, the schedule the notifier
 * follows (`t0Us + (id - firstId) × periodUs` is when that id was meant to be
 * sent): latency is arrival minus that intended time, on the machine-wide
 * monotonic clock. Deliveries of ids outside the phase (probes, late frames
 * of an earlier phase) make a subscription ready but are not counted. Every
 * 1,000th counted delivery is parsed in full and checked against the
 * expected shape, and failures counted as `invalid`.
 */
import { nowUs } from '../support/clock.js';
import { Latency } from '../support/histogram.js';

/** A measured phase, as the orchestrator describes it. */
export interface Phase {
  name: string;
  firstId: number;
  count: number;
  /** Open-loop phases only. */
  t0Us?: number;
  periodUs?: number;
}

/** What a client process reports for the current phase. */
export interface PhaseReport {
  subscriptions: number;
  ready: number;
  deliveries: number;
  firstUs: number | null;
  lastUs: number | null;
  /** Encoded HDR histogram (open-loop phases). */
  latency: string | null;
  invalid: number;
  errors: number;
  ended: number;
  /** This process's CPU during the phase, ms. */
  cpuMs: number;
}

/** Counts deliveries of one client process; see the module contract. */
export class Deliveries {
  private readonly seen: Uint8Array;
  private readyCount = 0;
  private phase: Phase | null = null;
  private counted = 0;
  private firstUs: number | null = null;
  private lastUs: number | null = null;
  private readonly latency = new Latency();
  private invalid = 0;
  private errors = 0;
  private ended = 0;
  private cpuAtPhase = process.cpuUsage();

  constructor(
    readonly subscriptions: number,
    /** Parses a raw frame in full; returns the build id it carries, or null if malformed. */
    private readonly validate: (raw: string) => number | null,
    private readonly onReady: () => void,
    private readonly onPhaseDone: (phase: Phase) => void,
  ) {
    this.seen = new Uint8Array(subscriptions);
  }

  /** Subscription `sub` received the event of `buildId` (`raw` is the frame). */
  delivery(sub: number, buildId: number, raw: string): void {
    if (this.seen[sub] === 0) {
      this.seen[sub] = 1;
      if (++this.readyCount === this.subscriptions) this.onReady();
    }
    const phase = this.phase;
    if (!phase || buildId < phase.firstId || buildId >= phase.firstId + phase.count) return;
    const at = nowUs();
    if (this.firstUs === null) this.firstUs = at;
    this.lastUs = at;
    if (phase.t0Us !== undefined && phase.periodUs !== undefined)
      this.latency.record(at - (phase.t0Us + (buildId - phase.firstId) * phase.periodUs));
    if (++this.counted % 1000 === 1 && this.validate(raw) !== buildId) this.invalid++;
    if (this.counted === this.subscriptions * phase.count) this.onPhaseDone(phase);
  }

  /** A subscription was ended by the server or its socket closed. */
  end(): void {
    this.ended++;
  }

  /** The server sent an error. */
  error(): void {
    this.errors++;
  }

  /** How many subscriptions have received at least one event. */
  get ready(): number {
    return this.readyCount;
  }

  /** Starts counting `phase` (and stops counting the previous one). */
  startPhase(phase: Phase): void {
    this.phase = phase;
    this.counted = 0;
    this.firstUs = null;
    this.lastUs = null;
    this.latency.reset();
    this.invalid = 0;
    this.cpuAtPhase = process.cpuUsage();
  }

  /** The current phase's figures. */
  report(): PhaseReport {
    const cpu = process.cpuUsage(this.cpuAtPhase);
    return {
      subscriptions: this.subscriptions,
      ready: this.readyCount,
      deliveries: this.counted,
      firstUs: this.firstUs,
      lastUs: this.lastUs,
      latency: this.phase?.t0Us !== undefined ? this.latency.encode() : null,
      invalid: this.invalid,
      errors: this.errors,
      ended: this.ended,
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
  }
}
