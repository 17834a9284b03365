/**
 * The bench's results: every measured figure as one record, the table
 * printed on stdout, and the JSON report written to `bench/results/`.
 *
 * Contract: a `Measurement` is one value of one figure, for one subject
 * (gateway, floor, yoga), one case (a size, a rate) and one run; a value that
 * could not be measured is `null` with a `note` saying why, never a guess.
 * The table puts the runs side by side ("run 1 / run 2") and, where the floor
 * was measured in the same case, the ratio of each subject to the floor, run
 * by run. The JSON holds everything, details included (delivered fractions,
 * client CPU, notifier lag, statement breakdowns).
 */
import { writeFileSync } from 'node:fs';

/** Who a figure is about. */
export type Subject = 'gateway' | 'floor' | 'yoga';

/** One measured value. */
export interface Measurement {
  scenario: string;
  figure: string;
  /** e.g. "1000 subs", "10 subs, 20 ev/s" */
  case: string;
  unit: string;
  subject: Subject;
  run: number;
  value: number | null;
  note?: string;
  detail?: Record<string, unknown>;
}

/** Collects measurements in the order they were taken. */
export class Results {
  readonly measurements: Measurement[] = [];
  readonly warnings: string[] = [];

  /** Adds one measurement. */
  record(measurement: Measurement): void {
    this.measurements.push(measurement);
  }

  /** Adds a warning for the report (also printed by the caller). */
  warning(message: string): void {
    this.warnings.push(message);
  }
}

function format(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })}${unit === '/s' || unit === '' ? '' : ` ${unit}`}`;
}

const SUBJECTS: Subject[] = ['gateway', 'floor', 'yoga'];

/** The table of `results`, one row per figure and case. */
export function renderTable(results: Results, runs: number): string {
  const rows = new Map<string, Measurement[]>();
  for (const m of results.measurements) {
    const key = `${m.figure}\u0000${m.case}`;
    rows.set(key, [...(rows.get(key) ?? []), m]);
  }
  const header = [
    'figure',
    'case',
    'unit',
    ...SUBJECTS.map((s) => `${s} (${Array.from({ length: runs }, (_, i) => `r${i + 1}`).join(' / ')})`),
    'gateway/floor',
    'yoga/floor',
  ];
  const lines: string[][] = [header];
  for (const ms of rows.values()) {
    const first = ms[0]!;
    const value = (subject: Subject, run: number) => ms.find((m) => m.subject === subject && m.run === run);
    const cell = (subject: Subject) => {
      if (!ms.some((m) => m.subject === subject)) return '';
      return Array.from({ length: runs }, (_, i) => {
        const m = value(subject, i + 1);
        return m ? format(m.value, '') + (m.note ? '*' : '') : '–';
      }).join(' / ');
    };
    const ratio = (subject: Subject) => {
      if (!ms.some((m) => m.subject === subject) || !ms.some((m) => m.subject === 'floor')) return '';
      return Array.from({ length: runs }, (_, i) => {
        const a = value(subject, i + 1)?.value;
        const b = value('floor', i + 1)?.value;
        return a != null && b != null && b !== 0 ? `${format(a / b, '')}x` : '–';
      }).join(' / ');
    };
    lines.push([first.figure, first.case, first.unit, ...SUBJECTS.map(cell), ratio('gateway'), ratio('yoga')]);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  const render = (l: string[]) => `| ${l.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  const out = [render(lines[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...lines.slice(1).map(render)];
  // One line per subject, run, case and note, naming the figures it concerns.
  const grouped = new Map<string, string[]>();
  for (const m of results.measurements.filter((x) => x.note)) {
    const key = `${m.subject} r${m.run}, ${m.case}: ${m.note}`;
    grouped.set(key, [...(grouped.get(key) ?? []), m.figure]);
  }
  const notes = [...grouped].map(([key, figures]) => `* ${key} (${figures.join('; ')})`);
  return [...out, ...(notes.length ? ['', ...notes] : [])].join('\n');
}

/** Writes the JSON report to `path`. */
export function writeReport(path: string, report: Record<string, unknown>): void {
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
