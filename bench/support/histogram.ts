/**
 * Latency histograms: HDR histograms (`hdr-histogram-js`) of microseconds,
 * recorded in client processes, shipped to the orchestrator encoded, merged
 * there and summarised.
 *
 * Contract: values are whole microseconds from 1 µs to one hour (3 significant
 * digits); a value outside is clamped, never dropped. Summaries are in
 * milliseconds, which is what the report prints.
 */
import * as hdr from 'hdr-histogram-js';

const HOUR_US = 3_600_000_000;

function create(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HOUR_US, numberOfSignificantValueDigits: 3, autoResize: false });
}

/** Percentiles of a latency histogram, ms. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** A latency histogram. */
export class Latency {
  readonly histogram = create();

  /** Records `us` microseconds. */
  record(us: number): void {
    this.histogram.recordValue(Math.min(HOUR_US, Math.max(1, Math.round(us))));
  }

  /** The histogram encoded for another process. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }

  /** Adds an encoded histogram (from `encode`). */
  addEncoded(encoded: string): void {
    this.histogram.add(hdr.decodeFromCompressedBase64(encoded));
  }

  /** Empties the histogram. */
  reset(): void {
    this.histogram.reset();
  }

  /** Count and percentiles, ms. */
  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: h.totalCount,
      p50: h.totalCount ? ms(h.getValueAtPercentile(50)) : NaN,
      p99: h.totalCount ? ms(h.getValueAtPercentile(99)) : NaN,
      max: h.totalCount ? ms(h.maxValue) : NaN,
      mean: h.totalCount ? ms(h.mean) : NaN,
    };
  }
}

/** Summarises a list of durations given in ms (small samples: page latencies). */
export function summarizeMs(values: readonly number[]): LatencySummary {
  const latency = new Latency();
  for (const v of values) latency.record(v * 1000);
  return latency.summary();
}
