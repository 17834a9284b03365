/**
 * Parsing of Hydra's NOTIFY payloads, strictly, one rule per channel.
 *
 * Contract: `parsePayload` is the only place a raw payload string becomes a
 * typed value. It never throws: a payload that breaks its channel's rule comes
 * back as a `PayloadError` saying what was expected and what arrived, so the
 * listener can log it, count it and drop it without a client ever seeing it.
 * Fields are separated by exactly one TAB; ids are decimal int4 (`^\d+$`, at
 * most 2^31-1). Rules follow Hydra's code (its evaluator and queue runner), not
 * its manual, where the two disagree.
 */
import type { Channel, QueueChannel } from './channels.js';
import { INT4_MAX } from './rows.js';

/** The typed content of one notification, discriminated by `channel`. */
export type Notice =
  | { channel: 'eval_started' | 'eval_failed'; traceId: string; jobsetId: number }
  | { channel: 'eval_added'; traceId: string; jobsetId: number; evaluationId: number }
  | { channel: 'eval_cached'; traceId: string; jobsetId: number; evaluationId: number }
  | { channel: 'build_queued' | 'build_started'; buildId: number }
  | { channel: 'step_started'; buildId: number; stepNr: number }
  | { channel: 'step_finished'; buildId: number; stepNr: number; logPath: string | null }
  | {
      channel: 'build_finished';
      buildId: number;
      /** The other ids of the payload, first occurrence order, without the build itself. */
      dependentIds: number[];
      /** Whether the payload listed the build among its own dependents (Hydra does so on failure). */
      selfListed: boolean;
    }
  | { channel: 'cached_build_queued' | 'cached_build_finished'; evaluationId: number; buildId: number }
  | { channel: 'builds_added'; lowestNewBuildId: number | null }
  | { channel: Exclude<QueueChannel, 'builds_added'> };

/** Why a payload was rejected. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
  constructor(
    readonly channel: string,
    readonly payload: string,
    readonly reason: string,
  ) {
    super(`malformed ${channel} payload ${JSON.stringify(payload.slice(0, 200))}: ${reason}`);
  }
}

const ID = /^\d+$/;

/** A field quoted for an error message, cut so a huge payload cannot flood the log. */
function quote(field: string): string {
  return JSON.stringify(field.length > 40 ? `${field.slice(0, 40)}…` : field);
}
function id(field: string | undefined, what: string): number {
  if (field === undefined) throw new Error(`expected ${what}, found nothing`);
  if (!ID.test(field)) throw new Error(`expected ${what} as a decimal id, found ${quote(field)}`);
  const value = Number(field);
  if (value > INT4_MAX) throw new Error(`${what} ${field} is out of int4 range`);
  return value;
}

function fields(payload: string, min: number, max: number, shape: string): string[] {
  const parts = payload.split('\t');
  if (parts.length < min || parts.length > max) {
    throw new Error(`expected ${shape} (${describe(min, max)}), found ${parts.length}`);
  }
  return parts;
}

function describe(min: number, max: number): string {
  if (max === Infinity) return `at least ${min} fields`;
  return min === max ? `${min} field${min === 1 ? '' : 's'}` : `${min} to ${max} fields`;
}

function trace(field: string | undefined): string {
  if (!field) throw new Error('expected a trace id, found an empty field');
  return field;
}

function parseOrThrow(channel: Channel, payload: string): Notice {
  switch (channel) {
    case 'eval_started':
    case 'eval_failed': {
      const [t, j] = fields(payload, 2, 2, 'trace<TAB>jobset_id');
      return { channel, traceId: trace(t), jobsetId: id(j, 'jobset_id') };
    }
    case 'eval_added': {
      const [t, j, e] = fields(payload, 3, 3, 'trace<TAB>jobset_id<TAB>eval_id');
      return { channel, traceId: trace(t), jobsetId: id(j, 'jobset_id'), evaluationId: id(e, 'eval_id') };
    }
    case 'eval_cached': {
      const [t, j, e] = fields(payload, 3, 3, 'trace<TAB>jobset_id<TAB>previous_eval_id');
      return { channel, traceId: trace(t), jobsetId: id(j, 'jobset_id'), evaluationId: id(e, 'previous_eval_id') };
    }
    case 'build_queued':
    case 'build_started': {
      const [b] = fields(payload, 1, 1, 'build_id');
      return { channel, buildId: id(b, 'build_id') };
    }
    case 'step_started': {
      const [b, s] = fields(payload, 2, 2, 'build_id<TAB>step_nr');
      return { channel, buildId: id(b, 'build_id'), stepNr: id(s, 'step_nr') };
    }
    case 'step_finished': {
      const [b, s, log] = fields(payload, 3, 3, 'build_id<TAB>step_nr<TAB>log_path');
      if (log === undefined || log === '') throw new Error('expected a log path or "-", found an empty field');
      if (log !== '-' && !log.startsWith('/')) {
        throw new Error(`expected an absolute log path or "-", found ${quote(log)}`);
      }
      return { channel, buildId: id(b, 'build_id'), stepNr: id(s, 'step_nr'), logPath: log === '-' ? null : log };
    }
    case 'build_finished': {
      const [first, ...rest] = fields(payload, 1, Infinity, 'build_id[<TAB>dependent_id]*');
      const buildId = id(first, 'build_id');
      const seen = new Set<number>();
      let selfListed = false;
      for (const [i, field] of rest.entries()) {
        const dep = id(field, `dependent id #${i + 1}`);
        if (dep === buildId) selfListed = true;
        else seen.add(dep);
      }
      return { channel, buildId, dependentIds: [...seen], selfListed };
    }
    case 'cached_build_queued':
    case 'cached_build_finished': {
      const [e, b] = fields(payload, 2, 2, 'eval_id<TAB>build_id');
      return { channel, evaluationId: id(e, 'eval_id'), buildId: id(b, 'build_id') };
    }
    case 'builds_added': {
      if (payload === '?') return { channel, lowestNewBuildId: null };
      const [b] = fields(payload, 1, 1, 'lowest_new_build_id or "?"');
      return { channel, lowestNewBuildId: id(b, 'lowest_new_build_id or "?"') };
    }
    case 'builds_restarted':
    case 'builds_cancelled':
    case 'builds_bumped':
    case 'builds_deleted':
    case 'jobsets_added':
    case 'jobsets_deleted':
    case 'jobset_scheduling_changed':
    case 'jobset_shares_changed':
    case 'hydra_notify_dump_metrics':
      if (payload !== '') throw new Error(`expected an empty payload, found ${payload.length} characters`);
      return { channel };
    default:
      throw new Error(`no payload rule for channel ${quote(channel satisfies never)}`);
  }
}

/**
 * Parses `payload` by the rule of `channel`.
 * @returns the typed notice, or a `PayloadError` naming what was wrong.
 */
export function parsePayload(channel: Channel, payload: string): Notice | PayloadError {
  try {
    return parseOrThrow(channel, payload);
  } catch (error) {
    return new PayloadError(channel, payload, (error as Error).message);
  }
}
