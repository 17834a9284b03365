/**
 * A subscriber's NOTIFY-to-client latency, measured continuously by a probe
 * in a worker thread (probe-worker.mjs): one builds_added every `everyMs`,
 * each timed from just before its NOTIFY is sent to its arrival at the
 * probe's WebSocket. `between(from, to)` gives the latencies of the probes
 * sent in a window (this machine's clock, `performance.timeOrigin +
 * performance.now()`, as `clock()` reads it). Stopped (and the thread gone)
 * after the test file at the latest.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { until } from '../../support/clients.js';
import { onCleanup } from '../../support/gateway.js';

/** This machine's clock in milliseconds, as the probe's thread reads it too. */
export const clock = () => performance.timeOrigin + performance.now();

/** The running probe. */
export class LatencyProbe {
  readonly samples: { seq: number; sentAt: number; latencyMs: number }[] = [];
  readonly problems: string[] = [];
  /** Set once stopped: probes sent, and those that never arrived. */
  result: { sent: number; unanswered: number } | null = null;
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  private constructor(workerData: { url: string; token: string; databaseUrl: string; everyMs: number }) {
    this.worker = new Worker(new URL('./probe-worker.mjs', import.meta.url), { workerData });
    this.worker.on('message', (message: { type: string; [key: string]: unknown }) => {
      if (message.type === 'sample') this.samples.push(message as unknown as LatencyProbe['samples'][number]);
      else if (message.type === 'stopped') this.result = message as unknown as { sent: number; unanswered: number };
      else this.problems.push(JSON.stringify(message));
    });
    this.worker.on('error', (error) => this.problems.push(`worker: ${error.message}`));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    onCleanup(() => this.stop());
  }

  /** Starts a probe of the gateway at `url` (sending `token`), NOTIFYing on `databaseUrl`; resolves once it measures. */
  static async start(options: { url: string; token: string; databaseUrl: string; everyMs?: number }): Promise<LatencyProbe> {
    const probe = new LatencyProbe({ everyMs: 20, ...options });
    await until(() => probe.samples.length >= 5, 30_000, 'the latency probe measuring');
    return probe;
  }

  /** The latencies (ms) of the probes sent from `from` to `to`. */
  between(from: number, to: number): number[] {
    return this.samples.filter((s) => s.sentAt >= from && s.sentAt <= to).map((s) => s.latencyMs);
  }

  /** Stops sending, waits for what is under way, ends the thread. */
  async stop(): Promise<void> {
    if (this.result) return;
    this.worker.postMessage('stop');
    await until(() => this.result !== null, 10_000, 'the probe stopped').catch(() => {});
    await this.exited;
  }
}
