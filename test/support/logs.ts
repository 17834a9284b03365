/**
 * Reading what the gateway logged: its records are JSON lines (src/log.ts),
 * in a test gateway's captured `logs` and on a start command's stderr alike,
 * where plain lines (a start-up failure's one message) may stand between them.
 */

/** A line of a stack trace: printed, or inside a JSON log record (`\n    at …`). */
export const STACK_FRAME = /^\s+at |\\n\s+at /m;
/** A log record at warn or error level (a JSON line: its level comes first). */
export const WARN_OR_ERROR = /^\{"level":"(warn|error)"/m;

/** One JSON log record as the gateway writes it. */
export type LogRecord = { level: string; time: string; msg: string } & Record<string, unknown>;

/** The log records among `output`'s lines (the JSON ones; plain lines such as start-up failures are skipped). */
export function logRecords(output: string | readonly string[]): LogRecord[] {
  const lines = typeof output === 'string' ? output.split('\n') : output;
  return lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogRecord);
}

/** Whether `output` holds a record with message `msg` and at least these fields. */
export function hasRecord(output: string | readonly string[], msg: string, fields: Record<string, unknown> = {}): boolean {
  return logRecords(output).some((r) => r.msg === msg && Object.entries(fields).every(([k, v]) => r[k] === v));
}
