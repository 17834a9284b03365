/**
 * Fuzzed NOTIFY payloads, from a seeded generator so that a failure
 * reproduces (`FAULTS_SEED=<seed> npm run test:faults`).
 *
 * `wellFormed` is the test's own statement of Hydra's payload formats (its
 * evaluator and queue runner, as src/hydra/payloads.ts documents them):
 * fields separated by single TABs, ids decimal digits within int4 (leading
 * zeros allowed: `^\d+$`), a non-empty trace id, a log path that is "-" or
 * absolute, `?` for builds_added without an id, nothing at all on the trigger
 * channels. It is written independently of the gateway's parser, which the
 * fuzzing checks. `goodPayload` and `badPayload` make payloads of either
 * kind, from the categories of the issue: empty, huge (just under Postgres's
 * 8000 bytes), non-numeric, negative, int4 overflow, leading zeros, control
 * characters, many tabs, non-ASCII.
 */
import { type Channel, QUEUE_CHANNELS } from '../../../src/hydra/channels.js';
import { between, chance, pick, seededRandom } from '../../../src/simulator/dice.js';

/** A seeded generator (the simulator's mulberry32 and its helpers): the same seed, the same payloads. */
export class Random {
  /** A float in [0, 1). */
  readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return between(this.next, min, max);
  }
  pick<T>(items: readonly T[]): T {
    return pick(this.next, items);
  }
  chance(p: number): boolean {
    return chance(this.next, p);
  }
}

/** The seed of this run: `FAULTS_SEED` or a fresh one. */
export function seedOfRun(): number {
  const given = process.env.FAULTS_SEED;
  return given ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32);
}

const INT4_MAX = 2_147_483_647;
/** The channels whose payload is empty: the trigger channels and hydra_notify_dump_metrics. */
const TRIGGER = new Set<string>(QUEUE_CHANNELS.filter((c) => c !== 'builds_added'));

/** Postgres's limit: a payload must be shorter than 8000 bytes. */
export const MAX_PAYLOAD_BYTES = 7_999;

function isId(field: string | undefined): boolean {
  return field !== undefined && /^[0-9]+$/.test(field) && Number(field) <= INT4_MAX;
}

/** Whether `payload` is well-formed on `channel` by Hydra's formats (see the module contract). */
export function wellFormed(channel: Channel, payload: string): boolean {
  const f = payload.split('\t');
  switch (channel) {
    case 'eval_started':
    case 'eval_failed':
      return f.length === 2 && f[0] !== '' && isId(f[1]);
    case 'eval_added':
    case 'eval_cached':
      return f.length === 3 && f[0] !== '' && isId(f[1]) && isId(f[2]);
    case 'build_queued':
    case 'build_started':
      return f.length === 1 && isId(f[0]);
    case 'step_started':
    case 'cached_build_queued':
    case 'cached_build_finished':
      return f.length === 2 && isId(f[0]) && isId(f[1]);
    case 'step_finished':
      return f.length === 3 && isId(f[0]) && isId(f[1]) && (f[2] === '-' || f[2]!.startsWith('/'));
    case 'build_finished':
      return f.every(isId);
    case 'builds_added':
      return payload === '?' || (f.length === 1 && isId(f[0]));
    default:
      return TRIGGER.has(channel) && payload === '';
  }
}

/** The build ids a well-formed build_finished names (the build and its dependents). */
export function namedBuilds(payload: string): number[] {
  return payload.split('\t').map(Number);
}

/** Ids that break the id rule: each is one of the issue's categories. */
const BAD_IDS = [
  '', // empty field
  'abc',
  '12a',
  '1.5',
  '1e3',
  ' 12',
  '12 ',
  '+12',
  '0x1F',
  'NaN',
  'Infinity',
  '-1', // negative
  '-0',
  '2147483648', // int4 overflow
  '4294967296',
  '99999999999999999999999999',
  '1'.repeat(400),
  '１２', // full-width digits
  '١٢', // Arabic-Indic digits
  '12\n', // control characters
  '\r12',
  '1\u000b2',
  '\u0001',
  '12\u007f',
  'é',
  '🙂',
  '\uFFFD',
];

/** Well-formed ids of the issue's categories (leading zeros are allowed by `^\d+$`). */
function goodId(random: Random, ids: readonly number[]): string {
  const id = random.pick(ids);
  return random.chance(0.2) ? `${'0'.repeat(random.int(1, 12))}${id}` : String(id);
}

/** A trace id: anything but empty and TAB (control characters and non-ASCII included). */
function trace(random: Random): string {
  return random.pick(['5f3c2a', 'trace\u0001with\u001fcontrol', 'évaluation-🙂', 'x'.repeat(random.int(1, 60)), '-1', '\r\n', ' ']);
}

/** A payload `channel` accepts; build ids from `builds` (for build_finished), other ids from `ids`. */
export function goodPayload(random: Random, channel: Channel, builds: readonly number[], ids: readonly number[]): string {
  const id = () => goodId(random, ids);
  switch (channel) {
    case 'eval_started':
    case 'eval_failed':
      if (random.chance(0.1)) return `${'t'.repeat(MAX_PAYLOAD_BYTES - 2)}\t7`; // huge, still well-formed
      return `${trace(random)}\t${id()}`;
    case 'eval_added':
    case 'eval_cached':
      return `${trace(random)}\t${id()}\t${id()}`;
    case 'build_queued':
    case 'build_started':
      return id();
    case 'step_started':
    case 'cached_build_queued':
    case 'cached_build_finished':
      return `${id()}\t${id()}`;
    case 'step_finished':
      return `${id()}\t${id()}\t${random.pick(['-', '/nix/var/log/nix/drvs/ab/cd.drv.bz2', `/${'l'.repeat(random.int(1, 300))}`, '/\u0001 é'])}`;
    case 'build_finished': {
      const build = () => goodId(random, builds);
      if (random.chance(0.15)) {
        // Huge: as many dependents as fit just under the limit.
        let payload = build();
        for (;;) {
          const next = `${payload}\t${build()}`;
          if (Buffer.byteLength(next) > MAX_PAYLOAD_BYTES) return payload;
          payload = next;
        }
      }
      return Array.from({ length: random.int(1, 6) }, build).join('\t');
    }
    case 'builds_added':
      return random.chance(0.2) ? '?' : id();
    default:
      return '';
  }
}

/** A payload `channel` must refuse; build ids from `builds` (for build_finished). */
export function badPayload(random: Random, channel: Channel, builds: readonly number[], ids: readonly number[]): string {
  const bad = () => random.pick(BAD_IDS);
  const id = () => String(random.pick(channel === 'build_finished' ? builds : ids));
  const forms: (() => string)[] = [
    () => '', // empty
    () => 'x'.repeat(random.int(MAX_PAYLOAD_BYTES - 10, MAX_PAYLOAD_BYTES)), // huge
    () => '9'.repeat(random.int(MAX_PAYLOAD_BYTES - 10, MAX_PAYLOAD_BYTES)), // huge digits: int4 overflow
    () => '\t'.repeat(random.int(1, 200)), // many tabs
    () => `${id()}${'\t'.repeat(random.int(2, 50))}${id()}`, // many tabs between ids
    () => `${id()}\t`, // a trailing tab: an empty last field
    () => bad(),
    () => `${id()}\t${bad()}`,
    () => `${bad()}\t${id()}`,
    () => `${id()}\t${id()}\t${id()}\t${id()}`, // too many fields (fine on build_finished: redrawn below)
    () => `${id()} ${id()}`, // a space where a TAB belongs
    () => `${id()},${id()}`,
  ];
  for (;;) {
    const payload = random.pick(forms)();
    if (!wellFormed(channel, payload) && Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES) return payload;
  }
}
