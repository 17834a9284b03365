/**
 * The logger: structured records, one line each, written by pino.
 *
 * Contract:
 * - Components receive a `Log` rather than importing a global, so tests can
 *   capture what was logged (a malformed payload must be logged, and that is
 *   asserted). Its methods are plain functions: `(quiet ? log.debug :
 *   log.warn)(…)` works.
 * - A record is one line: JSON (`{"level":"warn","time":"<ISO 8601>",
 *   …fields,"msg":"…"}`, the level by name) or, for a person at a terminal,
 *   pino-pretty's one-line rendering. `createLog(level, write)` hands each
 *   line to `write` (JSON unless `format: 'pretty'`); without `write` lines go
 *   to stderr, pretty when it is a terminal (`format: 'auto'`) and JSON
 *   otherwise (a service manager, a pipe, a file).
 * - No secret reaches a line. Values under a key that names a secret
 *   (`token`, `password`, `authorization`, `secret`, `cookie`, …), at any
 *   depth, become `[redacted]`; in every string (the message and every value)
 *   a URL's password (a DATABASE_URL), a `password=` setting, a Bearer
 *   credential, an `access_token` parameter and anything shaped like one of
 *   the gateway's tokens (`hng_…`) are masked.
 * - An `Error` among the fields is logged as its message; its stack is added
 *   (as `<key>Stack`) only when the level is `debug`.
 */
import PinoPretty from 'pino-pretty';
import { pino } from 'pino';

/** Severity of a log record. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

/** How records are written: `auto` is `pretty` on a terminal and `json` elsewhere. */
export type LogFormat = 'auto' | 'json' | 'pretty';

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

/** What `createLog` may be told besides the level and where lines go. */
export interface LogOptions {
  /** @default 'json' with `write`, 'auto' without */
  format?: LogFormat;
}

/** Keys whose values are secrets, whatever they hold (compared without case, `_` and `-`). */
const SECRET_KEYS = new Set(['token', 'accesstoken', 'password', 'passwd', 'pgpassword', 'secret', 'authorization', 'cookie', 'setcookie']);

/** What stands in for a secret. */
export const REDACTED = '[redacted]';

/** Secrets inside strings, and what each becomes. */
const SECRET_PATTERNS: [RegExp, string][] = [
  // scheme://user:password@host: a DATABASE_URL
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, '$1***@'],
  // libpq key=value connection strings, PGPASSWORD=…
  [/\b((?:pg)?password\s*=\s*)('[^']*'|[^\s'"&;]+)/gi, '$1***'],
  [/\b(Bearer\s+)[^\s"',;]+/gi, '$1***'],
  [/\b(access_token=)[^\s&"']+/gi, '$1***'],
  // The gateway's own tokens (auth/tokens.ts), wherever they appear.
  [/\bhng_[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])/g, 'hng_***'],
];

/** `text` with every secret it contains masked. */
export function maskSecrets(text: string): string {
  let masked = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) masked = masked.replace(pattern, replacement);
  return masked;
}

function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''));
}

/** How deep `clean` looks into nested fields; deeper values are summarised. */
const MAX_DEPTH = 5;

/** `value` fit for a log line: secrets redacted or masked, errors as their message (and stack, when `stacks`). */
function clean(value: unknown, stacks: boolean, depth = 0): unknown {
  if (typeof value === 'string') return maskSecrets(value);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  if (value instanceof Error) return maskSecrets(value.message);
  if (value instanceof Date) return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.map((item) => clean(item, stacks, depth + 1));
  return cleanFields(value as Fields, stacks, depth + 1);
}

/** Keys of a record's own (pino's, and pino-pretty's `pid`): a field of that name is written as `_<name>`. */
const RESERVED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function cleanFields(fields: Fields, stacks: boolean, depth = 0): Fields {
  const out: Fields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const key = depth === 0 && RESERVED.has(name) ? `_${name}` : name;
    if (isSecretKey(key)) {
      out[key] = REDACTED;
      continue;
    }
    out[key] = clean(value, stacks, depth);
    if (stacks && value instanceof Error && value.stack) out[`${key}Stack`] = maskSecrets(value.stack);
  }
  return out;
}

function pinoLog(logger: pino.Logger, stacks: boolean): Log {
  const at =
    (level: Level) =>
    (message: string, fields?: Fields): void => {
      if (!logger.isLevelEnabled(level)) return;
      logger[level](fields ? cleanFields(fields, stacks) : {}, maskSecrets(message));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => pinoLog(logger.child(cleanFields(fields, stacks)), stacks),
  };
}

/**
 * A logger writing records at `level` and above: one line each through
 * `write`, or on stderr (see the module contract for the format).
 */
export function createLog(level: Level = 'info', write?: (line: string) => void, options: LogOptions = {}): Log {
  const terminal = !write && process.stderr.isTTY === true;
  const format = options.format ?? (write ? 'json' : 'auto');
  const pretty = format === 'pretty' || (format === 'auto' && terminal);
  const prettify = pretty ? PinoPretty.prettyFactory({ colorize: terminal, singleLine: true, translateTime: 'SYS:HH:MM:ss.l' }) : null;
  const out = write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const destination = { write: (chunk: string) => out((prettify ? prettify(chunk) : chunk).replace(/\n$/, '')) };
  const logger = pino(
    {
      level,
      // No pid or hostname on every line: the fields of a record name the pids that matter,
      // and a log shipper adds the host.
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return pinoLog(logger, level === 'debug');
}

/** A logger that discards everything. */
export const silentLog: Log = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLog,
};
