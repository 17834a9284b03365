/**
 * Progress lines on stderr, so a person watching `npm run bench` knows what
 * runs and a log of a failed run shows where it stopped.
 *
 * Contract: every line starts with `[bench mm:ss.s]`, the time since this
 * process loaded the module; stdout is left to the final table alone.
 */

const started = performance.now();

/** Seconds since the bench started. */
export function elapsedSeconds(): number {
  return (performance.now() - started) / 1000;
}

function stamp(): string {
  const s = elapsedSeconds();
  const minutes = Math.floor(s / 60);
  return `${String(minutes).padStart(2, '0')}:${(s - minutes * 60).toFixed(1).padStart(4, '0')}`;
}

/** Writes one progress line on stderr. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${stamp()}] ${message}\n`);
}

/** Writes one warning line on stderr (also kept for the report by the caller). */
export function warn(message: string): void {
  process.stderr.write(`[bench ${stamp()}] WARNING ${message}\n`);
}
