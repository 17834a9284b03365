/**
 * A small structured logger: one line per record, `time level message key=value…`,
 * on stderr. Components receive a `Log` rather than importing a global, so tests
 * can capture what was logged (a malformed payload must be logged, and that is
 * asserted).
 */

/** Severity of a log record. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

/** Key/value context of a log record. */
export type Fields = Record<string, unknown>;

/** Writes log records; `child` adds fixed fields to every record. */
export interface Log {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  child(fields: Fields): Log;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function format(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /^[\w./:-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? 'undefined';
}

/** A logger writing records at `level` and above through `write` (stderr by default). */
export function createLog(
  level: Level = 'info',
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  base: Fields = {},
): Log {
  const emit = (at: Level, message: string, fields?: Fields) => {
    if (ORDER[at] < ORDER[level]) return;
    const all = { ...base, ...fields };
    const tail = Object.entries(all)
      .map(([k, v]) => `${k}=${format(v)}`)
      .join(' ');
    write(`${new Date().toISOString()} ${at.padEnd(5)} ${message}${tail ? ` ${tail}` : ''}`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLog(level, write, { ...base, ...fields }),
  };
}

/** A logger that discards everything. */
export const silentLog: Log = createLog('error', () => {});
