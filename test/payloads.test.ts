/**
 * Table-driven unit tests of `parsePayload` (src/hydra/payloads.ts) against the payload rules
 * of Hydra's evaluator and queue runner (see src/hydra/channels.ts): for every channel in `CHANNELS` a
 * table of good payloads with the exact `Notice` they must parse to, and a table of bad
 * payloads that must come back as a `PayloadError` carrying the channel, the raw payload and a
 * reason naming what was expected (checked by substring). Two guard tests assert that both
 * tables cover exactly the set of `CHANNELS`, so a new channel cannot be added without cases.
 * Covered: field counts and single-TAB separation (doubled and trailing TABs), empty traces,
 * strict decimal int4 ids (signs, spaces, decimals, exponents, non-ASCII digits, trailing
 * newline, 2^31-1 vs 2^31), step_finished log paths (absolute, legacy `-`, relative, empty),
 * build_finished dependents (self-listing on failure, de-duplication, first-occurrence order),
 * builds_added's `?`, the empty payload-less trigger channels, and that garbage, unicode and
 * 8000-character payloads never make `parsePayload` throw on any channel.
 */
import { describe, expect, it } from 'vitest';
import { CHANNELS, type Channel } from '../src/hydra/channels.js';
import { parsePayload, PayloadError, type Notice } from '../src/hydra/payloads.js';

interface Good {
  channel: Channel;
  payload: string;
  notice: Notice;
}

interface Bad {
  channel: Channel;
  payload: string;
  /** Substrings the error's reason must contain. */
  reason: string[];
}

const TRACE = '183745.123456789.4242';
const LOG = '/nix/var/log/nix/drvs/ab/cdef.drv.bz2';

const EVAL_JOBSET = ['eval_started', 'eval_failed'] as const;
const BUILD_ONE = ['build_queued', 'build_started'] as const;
const CACHED = ['cached_build_queued', 'cached_build_finished'] as const;
const TRIGGERS = [
  'builds_restarted',
  'builds_cancelled',
  'builds_bumped',
  'builds_deleted',
  'jobsets_added',
  'jobsets_deleted',
  'jobset_scheduling_changed',
  'jobset_shares_changed',
  'hydra_notify_dump_metrics',
] as const;

/** Ids that `^\d+$` (ASCII) with the int4 bound must reject, and the reason fragment. */
const BAD_IDS: [string, string][] = [
  ['7a', 'as a decimal id, found "7a"'],
  ['-1', 'as a decimal id, found "-1"'],
  ['+7', 'as a decimal id, found "+7"'],
  [' 7', 'as a decimal id, found " 7"'],
  ['7 ', 'as a decimal id, found "7 "'],
  ['7\n', 'as a decimal id, found "7\\n"'],
  ['1.5', 'as a decimal id, found "1.5"'],
  ['1e3', 'as a decimal id, found "1e3"'],
  ['0x10', 'as a decimal id, found "0x10"'],
  ['\u0667', 'as a decimal id, found "\u0667"'], // ARABIC-INDIC DIGIT SEVEN
  ['\uff17', 'as a decimal id, found "\uff17"'], // FULLWIDTH DIGIT SEVEN
  ['2147483648', '2147483648 is out of int4 range'],
  ['99999999999999999999', '99999999999999999999 is out of int4 range'],
];

const good: Good[] = [
  // eval_started / eval_failed: trace<TAB>jobset_id
  ...EVAL_JOBSET.flatMap((channel): Good[] => [
    { channel, payload: `${TRACE}\t7`, notice: { channel, traceId: TRACE, jobsetId: 7 } },
    { channel, payload: `${TRACE}\t2147483647`, notice: { channel, traceId: TRACE, jobsetId: 2147483647 } },
    { channel, payload: 'opaque trace\t1', notice: { channel, traceId: 'opaque trace', jobsetId: 1 } },
  ]),
  // eval_added: trace<TAB>jobset_id<TAB>eval_id
  {
    channel: 'eval_added',
    payload: `${TRACE}\t7\t99`,
    notice: { channel: 'eval_added', traceId: TRACE, jobsetId: 7, evaluationId: 99 },
  },
  {
    channel: 'eval_added',
    payload: `${TRACE}\t2147483647\t2147483647`,
    notice: { channel: 'eval_added', traceId: TRACE, jobsetId: 2147483647, evaluationId: 2147483647 },
  },
  // eval_cached: trace<TAB>jobset_id<TAB>previous_eval_id
  {
    channel: 'eval_cached',
    payload: `${TRACE}\t7\t98`,
    notice: { channel: 'eval_cached', traceId: TRACE, jobsetId: 7, evaluationId: 98 },
  },
  // build_queued / build_started: build_id
  ...BUILD_ONE.flatMap((channel): Good[] => [
    { channel, payload: '12', notice: { channel, buildId: 12 } },
    { channel, payload: '2147483647', notice: { channel, buildId: 2147483647 } },
  ]),
  // step_started: build_id<TAB>step_nr
  { channel: 'step_started', payload: '12\t3', notice: { channel: 'step_started', buildId: 12, stepNr: 3 } },
  // step_finished: build_id<TAB>step_nr<TAB>log_path (absolute, or legacy "-")
  {
    channel: 'step_finished',
    payload: `12\t3\t${LOG}`,
    notice: { channel: 'step_finished', buildId: 12, stepNr: 3, logPath: LOG },
  },
  {
    channel: 'step_finished',
    payload: '12\t3\t-',
    notice: { channel: 'step_finished', buildId: 12, stepNr: 3, logPath: null },
  },
  // build_finished: build_id[<TAB>dependent_id]*
  {
    channel: 'build_finished',
    payload: '5',
    notice: { channel: 'build_finished', buildId: 5, dependentIds: [], selfListed: false },
  },
  {
    channel: 'build_finished',
    payload: '5\t6\t7',
    notice: { channel: 'build_finished', buildId: 5, dependentIds: [6, 7], selfListed: false },
  },
  {
    channel: 'build_finished',
    payload: '2\t2\t3',
    notice: { channel: 'build_finished', buildId: 2, dependentIds: [3], selfListed: true },
  },
  {
    channel: 'build_finished',
    payload: '5\t5',
    notice: { channel: 'build_finished', buildId: 5, dependentIds: [], selfListed: true },
  },
  {
    channel: 'build_finished',
    payload: '5\t6\t6',
    notice: { channel: 'build_finished', buildId: 5, dependentIds: [6], selfListed: false },
  },
  {
    channel: 'build_finished',
    payload: '5\t9\t6\t9\t5\t6',
    notice: { channel: 'build_finished', buildId: 5, dependentIds: [9, 6], selfListed: true },
  },
  // cached_build_queued / cached_build_finished: eval_id<TAB>build_id
  ...CACHED.flatMap((channel): Good[] => [{ channel, payload: '3\t12', notice: { channel, evaluationId: 3, buildId: 12 } }]),
  // builds_added: lowest_new_build_id or "?"
  { channel: 'builds_added', payload: '42', notice: { channel: 'builds_added', lowestNewBuildId: 42 } },
  { channel: 'builds_added', payload: '?', notice: { channel: 'builds_added', lowestNewBuildId: null } },
  // payload-less trigger channels and hydra_notify_dump_metrics
  ...TRIGGERS.map((channel): Good => ({ channel, payload: '', notice: { channel } })),
];

const bad: Bad[] = [
  // eval_started / eval_failed
  ...EVAL_JOBSET.flatMap((channel): Bad[] => {
    const shape = 'expected trace<TAB>jobset_id (2 fields)';
    return [
      { channel, payload: TRACE, reason: [shape, 'found 1'] },
      { channel, payload: '', reason: [shape, 'found 1'] },
      { channel, payload: `${TRACE}\t7\t8`, reason: [shape, 'found 3'] },
      { channel, payload: `${TRACE}\t\t7`, reason: [shape, 'found 3'] },
      { channel, payload: `${TRACE}\t7\t`, reason: [shape, 'found 3'] },
      { channel, payload: '\t7', reason: ['expected a trace id, found an empty field'] },
      { channel, payload: `${TRACE}\t`, reason: ['expected jobset_id as a decimal id, found ""'] },
      ...BAD_IDS.map(([value, reason]): Bad => ({ channel, payload: `${TRACE}\t${value}`, reason: ['jobset_id', reason] })),
    ];
  }),
  // eval_added
  ...((): Bad[] => {
    const channel = 'eval_added';
    const shape = 'expected trace<TAB>jobset_id<TAB>eval_id (3 fields)';
    return [
      { channel, payload: `${TRACE}\t7`, reason: [shape, 'found 2'] },
      { channel, payload: `${TRACE}\t7\t99\t1`, reason: [shape, 'found 4'] },
      { channel, payload: `${TRACE}\t7\t\t99`, reason: [shape, 'found 4'] },
      { channel, payload: '', reason: [shape, 'found 1'] },
      { channel, payload: `\t7\t99`, reason: ['expected a trace id, found an empty field'] },
      { channel, payload: `${TRACE}\tx\t99`, reason: ['expected jobset_id as a decimal id, found "x"'] },
      { channel, payload: `${TRACE}\t7\t-99`, reason: ['expected eval_id as a decimal id, found "-99"'] },
      { channel, payload: `${TRACE}\t7\t2147483648`, reason: ['eval_id 2147483648 is out of int4 range'] },
    ];
  })(),
  // eval_cached
  ...((): Bad[] => {
    const channel = 'eval_cached';
    const shape = 'expected trace<TAB>jobset_id<TAB>previous_eval_id (3 fields)';
    return [
      { channel, payload: `${TRACE}\t7`, reason: [shape, 'found 2'] },
      { channel, payload: `${TRACE}\t7\t98\t1`, reason: [shape, 'found 4'] },
      { channel, payload: '', reason: [shape, 'found 1'] },
      { channel, payload: `\t7\t98`, reason: ['expected a trace id, found an empty field'] },
      { channel, payload: `${TRACE}\t7\t9.8`, reason: ['expected previous_eval_id as a decimal id, found "9.8"'] },
    ];
  })(),
  // build_queued / build_started
  ...BUILD_ONE.flatMap((channel): Bad[] => [
    { channel, payload: '12\t13', reason: ['expected build_id (1 field)', 'found 2'] },
    { channel, payload: '12\t', reason: ['expected build_id (1 field)', 'found 2'] },
    { channel, payload: '', reason: ['expected build_id as a decimal id, found ""'] },
    ...BAD_IDS.map(([value, reason]): Bad => ({ channel, payload: value, reason: ['build_id', reason] })),
  ]),
  // step_started
  ...((): Bad[] => {
    const channel = 'step_started';
    const shape = 'expected build_id<TAB>step_nr (2 fields)';
    return [
      { channel, payload: '12', reason: [shape, 'found 1'] },
      { channel, payload: '', reason: [shape, 'found 1'] },
      { channel, payload: '12\t3\t4', reason: [shape, 'found 3'] },
      { channel, payload: '12\t\t3', reason: [shape, 'found 3'] },
      { channel, payload: 'x\t3', reason: ['expected build_id as a decimal id, found "x"'] },
      { channel, payload: '12\t', reason: ['expected step_nr as a decimal id, found ""'] },
      { channel, payload: '12\t1e3', reason: ['expected step_nr as a decimal id, found "1e3"'] },
    ];
  })(),
  // step_finished
  ...((): Bad[] => {
    const channel = 'step_finished';
    const shape = 'expected build_id<TAB>step_nr<TAB>log_path (3 fields)';
    return [
      { channel, payload: '12\t3', reason: [shape, 'found 2'] },
      { channel, payload: `12\t3\t${LOG}\t1`, reason: [shape, 'found 4'] },
      { channel, payload: '', reason: [shape, 'found 1'] },
      { channel, payload: '12\t3\t', reason: ['expected a log path or "-", found an empty field'] },
      {
        channel,
        payload: '12\t3\tnix/var/log/nix/drvs/ab/cdef.drv.bz2',
        reason: ['expected an absolute log path or "-", found "nix/var/log/nix/drvs/ab/cdef.drv.bz2"'],
      },
      { channel, payload: '12\t3\t--', reason: ['expected an absolute log path or "-", found "--"'] },
      { channel, payload: `x\t3\t${LOG}`, reason: ['expected build_id as a decimal id, found "x"'] },
      { channel, payload: '12\t-3\t-', reason: ['expected step_nr as a decimal id, found "-3"'] },
    ];
  })(),
  // build_finished
  ...((): Bad[] => {
    const channel = 'build_finished';
    return [
      { channel, payload: '', reason: ['expected build_id as a decimal id, found ""'] },
      { channel, payload: '5\t\t6', reason: ['expected dependent id #1 as a decimal id, found ""'] },
      { channel, payload: '5\tx', reason: ['expected dependent id #1 as a decimal id, found "x"'] },
      { channel, payload: '5\t6\t', reason: ['expected dependent id #2 as a decimal id, found ""'] },
      { channel, payload: '\t5\t6', reason: ['expected build_id as a decimal id, found ""'] },
      { channel, payload: '5\t6\t2147483648', reason: ['dependent id #2 2147483648 is out of int4 range'] },
      ...BAD_IDS.map(([value, reason]): Bad => ({ channel, payload: value, reason: ['build_id', reason] })),
    ];
  })(),
  // cached_build_queued / cached_build_finished
  ...CACHED.flatMap((channel): Bad[] => {
    const shape = 'expected eval_id<TAB>build_id (2 fields)';
    return [
      { channel, payload: '3', reason: [shape, 'found 1'] },
      { channel, payload: '', reason: [shape, 'found 1'] },
      { channel, payload: '3\t12\t13', reason: [shape, 'found 3'] },
      { channel, payload: 'x\t12', reason: ['expected eval_id as a decimal id, found "x"'] },
      { channel, payload: '3\t', reason: ['expected build_id as a decimal id, found ""'] },
      { channel, payload: '3\t2147483648', reason: ['build_id 2147483648 is out of int4 range'] },
    ];
  }),
  // builds_added
  ...((): Bad[] => {
    const channel = 'builds_added';
    const what = 'expected lowest_new_build_id or "?"';
    return [
      { channel, payload: '??', reason: [`${what} as a decimal id, found "??"`] },
      { channel, payload: '', reason: [`${what} as a decimal id, found ""`] },
      { channel, payload: ' ?', reason: [`${what} as a decimal id, found " ?"`] },
      { channel, payload: '4\t5', reason: [`${what} (1 field)`, 'found 2'] },
      { channel, payload: '?\t', reason: [`${what} (1 field)`, 'found 2'] },
      { channel, payload: '-4', reason: [`${what} as a decimal id, found "-4"`] },
      { channel, payload: '2147483648', reason: ['2147483648 is out of int4 range'] },
    ];
  })(),
  // payload-less trigger channels and hydra_notify_dump_metrics
  ...TRIGGERS.flatMap((channel): Bad[] => [
    { channel, payload: ' ', reason: ['expected an empty payload, found 1 characters'] },
    { channel, payload: '0', reason: ['expected an empty payload, found 1 characters'] },
    { channel, payload: '\t', reason: ['expected an empty payload, found 1 characters'] },
    { channel, payload: '12\t3', reason: ['expected an empty payload, found 4 characters'] },
  ]),
];

/** A readable one-line rendering of a payload for test titles. */
function show(payload: string): string {
  const json = JSON.stringify(payload);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

function expectError(result: Notice | PayloadError): PayloadError {
  expect(result).toBeInstanceOf(PayloadError);
  return result as PayloadError;
}

describe('the case tables', () => {
  it('has good payloads for every channel, and only for known channels', () => {
    expect(new Set(good.map((c) => c.channel))).toEqual(new Set(CHANNELS));
  });

  it('has bad payloads for every channel, and only for known channels', () => {
    expect(new Set(bad.map((c) => c.channel))).toEqual(new Set(CHANNELS));
  });

  it('pairs each good notice with its own channel', () => {
    for (const c of good) expect(c.notice.channel).toBe(c.channel);
  });
});

describe('parsePayload: good payloads', () => {
  it.each(good.map((c) => [c.channel, show(c.payload), c] as const))('%s %s', (_channel, _shown, c) => {
    const result = parsePayload(c.channel, c.payload);
    expect(result).not.toBeInstanceOf(PayloadError);
    expect(result).toStrictEqual(c.notice);
  });
});

describe('parsePayload: bad payloads', () => {
  it.each(bad.map((c) => [c.channel, show(c.payload), c] as const))('%s %s', (_channel, _shown, c) => {
    const error = expectError(parsePayload(c.channel, c.payload));
    expect(error.name).toBe('PayloadError');
    expect(error.channel).toBe(c.channel);
    expect(error.payload).toBe(c.payload);
    for (const fragment of c.reason) expect(error.reason).toContain(fragment);
    expect(error.message).toContain(`malformed ${c.channel} payload`);
    expect(error.message).toContain(error.reason);
  });
});

describe('parsePayload never throws', () => {
  const garbage = ['\u0000\u0001\u007f', '\uD800 lone surrogate \uDFFF', '日本語\tπ\t💥', '\t\t\t', '\r\n', '\\t7'];
  const long = ['x'.repeat(8000), '7'.repeat(8000), '\t'.repeat(8000), '💥'.repeat(4000), `${TRACE}\t${'7'.repeat(7980)}`];

  describe.each([...CHANNELS])('%s', (channel) => {
    it.each(garbage.map((p) => [show(p), p] as const))('rejects garbage %s', (_shown, payload) => {
      let result: Notice | PayloadError | undefined;
      expect(() => {
        result = parsePayload(channel, payload);
      }).not.toThrow();
      const error = expectError(result!);
      expect(error.channel).toBe(channel);
      expect(error.payload).toBe(payload);
      expect(error.reason.length).toBeGreaterThan(0);
    });

    it.each(long.map((p, i) => [i, p] as const))('rejects 8000-character payload #%i', (_i, payload) => {
      let result: Notice | PayloadError | undefined;
      expect(() => {
        result = parsePayload(channel, payload);
      }).not.toThrow();
      const error = expectError(result!);
      expect(error.payload).toBe(payload);
      // The message quotes the payload cut to its first 200 characters.
      expect(error.message).toContain(`payload ${JSON.stringify(payload.slice(0, 200))}: `);
    });
  });

  it('parses a long (~7000 byte) build_finished payload with many dependents', () => {
    const deps = Array.from({ length: 700 }, (_, i) => 1_000_000 + i);
    const payload = ['42', ...deps].join('\t');
    expect(payload.length).toBeGreaterThan(5000);
    expect(parsePayload('build_finished', payload)).toStrictEqual({
      channel: 'build_finished',
      buildId: 42,
      dependentIds: deps,
      selfListed: false,
    });
  });
});
