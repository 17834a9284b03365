/**
 * How the CLI prints for people: rows as aligned columns under a header, and
 * instants as ISO 8601 to the second. Scripts use the `--json` of each
 * command instead, whose shape is documented in the README and kept stable.
 */

/** Rows as columns padded to their widest cell, the header first; nothing but the header line when there are no rows. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** An instant to the second (`2026-11-22T08:08:23Z`), or `-`. */
export function instant(date: Date | null | undefined): string {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

/** Unix seconds (Hydra's) as an ISO 8601 instant. */
export function unixInstant(seconds: number): string {
  return instant(new Date(seconds * 1000));
}

/** A duration for people: `45s`, `12m`, `3h`, `2d`. */
export function age(seconds: number): string {
  if (seconds < 120) return `${Math.max(0, Math.round(seconds))}s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3_600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}
