/**
 * The figures a fault test measured: printed (one block per test, so a run's
 * log shows them) and written to `<os temp dir>/hng-faults/<name>.json`, so a
 * session note can quote them. Also the few statistics the tests compute.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the figures of `name` are written. */
export function figuresFile(name: string): string {
  return join(tmpdir(), 'hng-faults', `${name}.json`);
}

/** Prints `figures` under `name` and writes them to `figuresFile(name)`; returns the file. */
export function report(name: string, figures: Record<string, unknown>): string {
  const file = figuresFile(name);
  mkdirSync(join(tmpdir(), 'hng-faults'), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ name, at: new Date().toISOString(), ...figures }, null, 2)}\n`);
  console.log(`[faults] ${name} (${file})\n${JSON.stringify(figures, null, 2)}`);
  return file;
}

/** The `q`-quantile (0..1) of `values`, nearest rank; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** p50, p99 and max of `values`, rounded to 0.1 ms, and how many. */
export function summary(values: readonly number[]): { n: number; p50: number; p99: number; max: number } {
  const round = (x: number) => Math.round(x * 10) / 10;
  return { n: values.length, p50: round(quantile(values, 0.5)), p99: round(quantile(values, 0.99)), max: round(Math.max(...values)) };
}
