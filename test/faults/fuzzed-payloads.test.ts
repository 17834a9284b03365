/**
 * Fuzzed NOTIFY payloads on every channel Hydra sends, from a seeded
 * generator (support/fuzz.ts; the seed is printed: FAULTS_SEED=<seed>
 * reproduces a run), sent the way Hydra sends them: several per transaction,
 * `NOTIFY chan, 'payload'` and `SELECT pg_notify(…)`, well-formed ones
 * interleaved. Invalid UTF-8 cannot reach a UTF8 database: Postgres refuses
 * such a NOTIFY (and a payload of 8000 bytes or more), which is asserted too;
 * a SQL_ASCII database takes it, and the second test sends it there.
 *
 * What must hold: the gateway stays up (/healthz, /readyz, its LISTEN
 * connection never lost) and journals everything as received; it counts each
 * malformed payload on its channel (`/metrics`: `notify_event_error`, named
 * `notify_event_error_total` until the metrics rename lands: both accepted);
 * a subscriber of every channel, over graphql-ws and SSE, receives exactly
 * the well-formed ones, in order; a consumer's pending set holds the builds
 * of the well-formed build_finished and none of those only a malformed one
 * named; a good notification sent afterwards arrives. In the SQL_ASCII
 * database, bytes that are not UTF-8 arrive as U+FFFD: such a payload is
 * malformed and counted, or (in a trace id, a log path) delivered as decoded,
 * and the LISTEN connection stays (it used to be ended by Postgres).
 */
import { describe, expect } from 'vitest';
import { CHANNELS, type Channel } from '../../src/hydra/channels.js';
import { requestData, until } from '../support/clients.js';
import { CREATE, PENDING } from '../support/consumers.js';
import { createTestDatabase, notify, type NotifyStyle, transaction } from '../support/database.js';
import { recordingGateway, test } from '../support/fixtures.js';
import { insertBuilds } from '../support/hydra.js';
import { metric } from '../support/child.js';
import { report } from './support/figures.js';
import { badPayload, goodPayload, namedBuilds, Random, seedOfRun, wellFormed } from './support/fuzz.js';
import { Subscriber } from './support/subscribers.js';
import { readJournal } from '../support/journal.js';

/** Malformed and well-formed payloads per channel. */
const BAD_PER_CHANNEL = 80;
const GOOD_PER_CHANNEL = 25;
/** Payloads per channel with bytes that are not UTF-8 (SQL_ASCII database). */
const INVALID_UTF8_PER_CHANNEL = 20;
/** Byte sequences that are not UTF-8: stray bytes, a truncated sequence, an encoded surrogate, an overlong form, Latin-1. */
const NOT_UTF8 = [[0xff], [0xfe], [0x80], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe9], [0xf5, 0x80, 0x80, 0x80]];

/** Statements Postgres must refuse in a UTF8 database, with the SQLSTATE it refuses them with. */
const REFUSED: { what: string; sql: string; values?: unknown[]; code: string }[] = [
  { what: 'invalid UTF-8 (0xff) in a NOTIFY literal', sql: `NOTIFY build_queued, E'\\xff'`, code: '22021' },
  { what: 'a truncated sequence in a trace id', sql: `NOTIFY eval_started, E'\\xc3\\x28\\t7'`, code: '22021' },
  { what: 'an encoded surrogate (CESU) in a build id', sql: `NOTIFY build_finished, E'1\\xed\\xa0\\x80'`, code: '22021' },
  { what: 'an overlong "/" in a log path', sql: `NOTIFY step_finished, E'1\\t2\\t\\xc0\\xaf'`, code: '22021' },
  { what: 'a NUL byte', sql: `NOTIFY builds_added, E'1\\x002'`, code: '22021' },
  { what: 'invalid UTF-8 through pg_notify', sql: `SELECT pg_notify('builds_added', convert_from('\\xff'::bytea, 'UTF8'))`, code: '22021' },
  {
    what: 'invalid UTF-8 bytes as a pg_notify parameter',
    sql: 'SELECT pg_notify($1, $2)',
    values: ['build_started', Buffer.from([0x31, 0xfe])],
    code: '22021',
  },
  { what: 'a NUL in a pg_notify parameter', sql: 'SELECT pg_notify($1, $2)', values: ['build_started', '1\u00002'], code: '22021' },
  { what: 'a payload of 8000 bytes', sql: `SELECT pg_notify('build_finished', repeat('1', 8000))`, code: '22023' },
  { what: '4000 two-byte characters (8000 bytes)', sql: `SELECT pg_notify('eval_started', repeat('é', 4000))`, code: '22023' },
];

interface Sent {
  channel: Channel;
  /** The payload as the gateway receives it (decoded as UTF-8). */
  payload: string;
  /** Its bytes, when they are not the UTF-8 of `payload`. */
  bytes?: Buffer;
  good: boolean;
}

/**
 * `planned` in a drawn order, in transactions of 1 to 8, each with a drawn
 * style. Postgres folds a repeated (channel, payload) within one transaction
 * into one, and the gateway merges consecutive well-formed build_finished of
 * one build (Hydra's chunks): neither is made here.
 */
function intoTransactions(random: Random, planned: readonly Sent[]) {
  const transactions: { style: NotifyStyle; notifications: Sent[] }[] = [];
  const sent: Sent[] = [];
  const key = (s: Sent) => `${s.channel}:${(s.bytes ?? Buffer.from(s.payload)).toString('hex')}`;
  const firstBuild = (s: Sent | undefined) => (s?.good && s.channel === 'build_finished' ? Number(s.payload.split('\t')[0]) : null);
  for (const item of shuffled(random, planned)) {
    if (item.good && firstBuild(item) !== null && firstBuild(item) === firstBuild(sent.at(-1))) continue;
    let current = transactions.at(-1);
    if (!current || current.notifications.length >= random.int(1, 8) || current.notifications.some((n) => key(n) === key(item))) {
      current = { style: random.pick(['statement', 'function'] as const), notifications: [] };
      transactions.push(current);
    }
    current.notifications.push(item);
    sent.push(item);
  }
  return { transactions, sent };
}

/** `items` in an order drawn from `random`. */
function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('fuzzed NOTIFY payloads', () => {
  test('on every channel: the gateway stays up, counts them, and only the well-formed reach subscribers and consumers', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const seed = seedOfRun();
    console.log(`[faults] fuzzed-payloads: seed ${seed} (FAULTS_SEED=${seed} npm run test:faults -- fuzzed reproduces this run)`);
    const random = new Random(seed);

    // Finished builds, their column already clear (as hydra-notify leaves it), so that only a
    // journaled build_finished can make them pending for a consumer: reconciliation never does.
    const builds = await insertBuilds(db.pool, jobsetId, 60);
    await db.pool.query(`UPDATE builds SET finished = 1, buildstatus = 0, starttime = 1, stoptime = 2 WHERE id = ANY($1::int[])`, [builds]);
    const named = builds.slice(0, 30);
    const onlyMalformed = builds.slice(30);
    const ids = [0, 1, 7, 42, 2_147_483_647, ...builds];
    await requestData(gateway.url, CREATE, { name: 'fuzz' });
    const subscribers = (['ws', 'sse'] as const).map(
      (t) => new Subscriber(`every-channel-${t}`, t, (previous) => (previous ? null : gateway.url)),
    );
    await until(() => gateway.hub.size === 2, 10_000, 'two subscriptions');
    // What Hydra's triggers sent while the rows were made (jobsets_added) is not the fuzz's.
    const { rows } = await db.pool.query('SELECT coalesce(max(position), 0) AS p FROM hydra_notify_gateway.journal');
    const before = Number(rows[0].p);
    const heardBefore = Object.fromEntries(
      await Promise.all(CHANNELS.map(async (c) => [c, await metric(gateway.url, 'notify_event(?:_total)?', `{channel="${c}"}`)] as const)),
    );

    // The plan: malformed and well-formed payloads on every channel, shuffled.
    const planned: Sent[] = [];
    for (const channel of CHANNELS) {
      for (let i = 0; i < BAD_PER_CHANNEL; i++)
        planned.push({ channel, payload: badPayload(random, channel, onlyMalformed, ids), good: false });
      for (let i = 0; i < GOOD_PER_CHANNEL; i++) planned.push({ channel, payload: goodPayload(random, channel, named, ids), good: true });
    }
    const { transactions, sent } = intoTransactions(random, planned);
    for (const item of sent)
      expect([item.channel, item.payload, wellFormed(item.channel, item.payload)]).toEqual([item.channel, item.payload, item.good]);

    for (const { style, notifications } of transactions) {
      await notify(
        db.pool,
        notifications.map((n) => [n.channel, n.payload] as const),
        style,
      );
    }
    // What Postgres refuses never reaches the gateway: the transaction fails.
    const refused: { what: string; code: string | undefined }[] = [];
    for (const { what, sql, values } of REFUSED) {
      const code = await transaction(db.pool, async (client) => {
        await client.query(sql, values);
      }).then(
        () => undefined,
        (error: { code?: string }) => error.code ?? 'no code',
      );
      refused.push({ what, code });
    }
    // A good notification afterwards: it arrives, after all the others.
    await notify(db.pool, [['builds_added', '1234567']]);
    const good = [...sent.filter((s) => s.good), { channel: 'builds_added', payload: '1234567', good: true }];
    await until(() => subscribers.every((s) => s.seen.length >= good.length), 30_000, 'the good notification after the fuzz');

    const journal = (await readJournal(db.pool)).filter((r) => r.kind === 'notification' && r.position > before);
    const errorsByChannel = Object.fromEntries(
      await Promise.all(
        CHANNELS.map(async (c) => [c, await metric(gateway.url, 'notify_event_error(?:_total)?', `{channel="${c}"}`)] as const),
      ),
    );
    const heardByChannel = Object.fromEntries(
      await Promise.all(CHANNELS.map(async (c) => [c, await metric(gateway.url, 'notify_event(?:_total)?', `{channel="${c}"}`)] as const)),
    );
    const pending = new Set(
      (await requestData(gateway.url, PENDING, { consumer: 'fuzz' })).pendingBuildFinished.edges.map((e) => e.node.id),
    );
    const expectedPending = new Set(
      sent
        .filter((s) => s.good && s.channel === 'build_finished')
        .flatMap((s) => namedBuilds(s.payload))
        .filter((id) => named.includes(id)),
    );
    const healthz = (await fetch(gateway.url.replace('/graphql', '/healthz'))).status;
    const readyz = (await fetch(gateway.url.replace('/graphql', '/readyz'))).status;
    const badSent = sent.filter((s) => !s.good);

    report('fuzzed-payloads', {
      seed,
      transactions: transactions.length,
      notificationsSent: sent.length + 1,
      malformedSent: badSent.length,
      wellFormedSent: good.length,
      hugePayloads: sent.filter((s) => Buffer.byteLength(s.payload) >= 7_900).length,
      refusedByPostgres: refused,
      malformedCounted: Object.values(errorsByChannel).reduce((a, b) => a + b, 0),
      received: subscribers.map((s) => ({ name: s.name, received: s.seen.length, ended: s.endings })),
      consumerPending: {
        expected: expectedPending.size,
        pending: pending.size,
        fromMalformedOnly: onlyMalformed.filter((id) => pending.has(id)).length,
      },
      healthz,
      readyz,
      listenerReconnects: gateway.listener.status.reconnects,
    });

    // Up, still listening on the same connection, nothing lost.
    expect([healthz, readyz]).toEqual([200, 200]);
    expect(gateway.listener.status.reconnects).toBe(0);
    // Journaled as received, malformed ones included, in order.
    expect(journal.map((r) => [r.channel, r.payload])).toEqual([...sent, good.at(-1)!].map((s) => [s.channel, s.payload]));
    // Counted, per channel.
    for (const channel of CHANNELS) {
      expect([channel, errorsByChannel[channel]]).toEqual([channel, badSent.filter((s) => s.channel === channel).length]);
      expect([channel, heardByChannel[channel]! - heardBefore[channel]!]).toEqual([
        channel,
        sent.filter((s) => s.channel === channel).length + (channel === 'builds_added' ? 1 : 0),
      ]);
    }
    expect(gateway.logs.some((line) => line.includes('malformed'))).toBe(true);
    // Subscribers of every channel: exactly the well-formed ones, in order, still subscribed.
    for (const s of subscribers) {
      expect(s.seen.map((e) => [e.channel, e.payload])).toEqual(good.map((g) => [g.channel, g.payload]));
      expect(s.endings).toEqual([]);
    }
    // The consumer: the builds of well-formed build_finished, never one only a malformed one named.
    expect([...pending].sort((a, b) => a - b)).toEqual([...expectedPending].sort((a, b) => a - b));
    expect(onlyMalformed.filter((id) => pending.has(id))).toEqual([]);
    // Postgres refused what a UTF8 database cannot hold.
    expect(refused).toEqual(REFUSED.map(({ what, code }) => ({ what, code })));
  }, 120_000);
  test('invalid UTF-8 where Postgres takes it (a SQL_ASCII database): dropped as malformed or delivered as decoded, on the same LISTEN connection', async () => {
    const seed = seedOfRun();
    console.log(
      `[faults] fuzzed-payloads (SQL_ASCII): seed ${seed} (FAULTS_SEED=${seed} npm run test:faults -- fuzzed reproduces this run)`,
    );
    const random = new Random(seed);
    const db = await createTestDatabase({ encoding: 'SQL_ASCII' });
    const gateway = await recordingGateway(db.url);
    const subscribers = (['ws', 'sse'] as const).map(
      (t) => new Subscriber(`sql-ascii-${t}`, t, (previous) => (previous ? null : gateway.url)),
    );
    await until(() => gateway.hub.size === 2, 10_000, 'two subscriptions');
    const pid = gateway.listener.status.backendPid;

    // Payloads of every channel, well-formed or not, with bytes that are not UTF-8 put in.
    const planned: Sent[] = [];
    for (const channel of CHANNELS) {
      for (let i = 0; i < INVALID_UTF8_PER_CHANNEL; i++) {
        const base = random.chance(0.5) ? goodPayload(random, channel, [1, 2, 3], [4, 5]) : badPayload(random, channel, [1, 2, 3], [4, 5]);
        const text = Buffer.from(base);
        if (text.length > 7_000) continue;
        const at = random.int(0, text.length);
        const bytes = Buffer.concat([text.subarray(0, at), Buffer.from(random.pick(NOT_UTF8)), text.subarray(at)]);
        const payload = bytes.toString('utf8');
        planned.push({ channel, payload, bytes, good: wellFormed(channel, payload) });
      }
      planned.push({ channel, payload: goodPayload(random, channel, [1, 2, 3], [4, 5]), good: true });
    }
    const { transactions, sent } = intoTransactions(random, planned);
    for (const { style, notifications } of transactions) {
      await transaction(db.pool, async (client) => {
        for (const n of notifications) {
          const bytes = n.bytes ?? Buffer.from(n.payload);
          if (style === 'statement')
            await client.query(`NOTIFY ${n.channel}, E'${[...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}'`);
          else await client.query(`SELECT pg_notify($1, convert_from($2, 'SQL_ASCII'))`, [n.channel, bytes]);
        }
      });
    }
    await notify(db.pool, [['builds_added', '7654321']]);
    const good = [...sent.filter((x) => x.good), { channel: 'builds_added', payload: '7654321', good: true }];
    await until(() => subscribers.every((x) => x.seen.length >= good.length), 30_000, 'the good notification after the fuzz');
    const journal = (await readJournal(db.pool)).filter((r) => r.kind === 'notification');
    const malformed = [...gateway.pipeline.stats.malformed.values()].reduce((a, b) => a + b, 0);

    report('fuzzed-payloads-sql-ascii', {
      seed,
      transactions: transactions.length,
      notificationsSent: sent.length + 1,
      withBytesNotUtf8: sent.filter((x) => x.bytes).length,
      deliveredAsDecoded: sent.filter((x) => x.bytes && x.good).length,
      malformedSent: sent.filter((x) => !x.good).length,
      malformedCounted: malformed,
      received: subscribers.map((x) => ({ name: x.name, received: x.seen.length, ended: x.endings })),
      listenerReconnects: gateway.listener.status.reconnects,
      gaps: (await readJournal(db.pool)).filter((r) => r.kind === 'gap').length,
    });

    expect(gateway.listener.status).toMatchObject({ connected: true, reconnects: 0, backendPid: pid });
    expect(journal.map((r) => [r.channel, r.payload])).toEqual([...sent, good.at(-1)!].map((x) => [x.channel, x.payload]));
    expect(malformed).toBe(sent.filter((x) => !x.good).length);
    for (const x of subscribers) {
      expect(x.seen.map((e) => [e.channel, e.payload])).toEqual(good.map((g) => [g.channel, g.payload]));
      expect(x.endings).toEqual([]);
    }
  }, 120_000);
});
