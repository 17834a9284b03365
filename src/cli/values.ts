/**
 * Values on the command line: each parser returns the value or throws
 * commander's `InvalidArgumentError`, which the program reports as a usage
 * error (exit code 2) naming the option and what it expected.
 */
import { InvalidArgumentError } from 'commander';
import { isInt4 } from '../hydra/rows.js';

/** A build id: a positive int4. */
export function parseBuildId(value: string): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || !isInt4(Number(value)))
    throw new InvalidArgumentError(`a build id is a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** A count: a positive integer. */
export function parseCount(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

const UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** A duration, `250ms`, `3s`, `5m`, `1h` (a bare number is milliseconds), in milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
  const ms = match ? Number(match[1]) * UNITS[(match[2] ?? 'ms') as keyof typeof UNITS] : NaN;
  if (!Number.isFinite(ms) || ms <= 0)
    throw new InvalidArgumentError(`a duration such as 500ms, 3s, 5m or 1h, got ${JSON.stringify(value)}`);
  return Math.round(ms);
}
