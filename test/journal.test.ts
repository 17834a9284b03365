/**
 * The journal with several instances on one database, against the real
 * Postgres: exactly one instance records (the holder of the advisory lock on
 * its LISTEN connection), the journal holds every notification once, in the
 * order sent (NOTIFY statements and pg_notify, chunked build_finished
 * included), and subscribers of every instance receive the same events with
 * the same cursors. A recorder that dies for real (a `tsx src/main.ts` child,
 * SIGKILLed mid-stream) or whose LISTEN connection is terminated is replaced
 * by an instance that kept listening, with nothing lost, nothing repeated and
 * no gap. A window in which nobody listened becomes a `gap` row followed by
 * the pending build_finished recovered from Hydra's table, which resuming
 * subscribers see as a GapEvent (or `precededByGap`) and a RECOVERED event.
 * Every database, gateway, client, writer and child process is disposed after
 * the file, even on failure.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { ChildProcess } from 'node:child_process';
import { parse } from 'graphql';
import type pg from 'pg';
import { describe, expect, test as base } from 'vitest';
import { buildFinishedPayloads } from '../src/simulator/payloads.js';
import { type Stream, subscribeWs, until, wsClient } from './support/clients.js';
import { createTestDatabase, notify, type NotifyStyle, type TestDatabase, transaction } from './support/database.js';
import { recordingGateway } from './support/fixtures.js';
import { onCleanup, startTestGateway } from './support/gateway.js';
import { finishBuilds, insertBuild, seedJobset } from './support/hydra.js';
import { StartCommand, tempDir } from './support/command.js';
import { readJournal } from './support/journal.js';
import { Writer } from './support/writer.js';
import { JOURNAL_CHANNEL } from '../src/db/channels.js';
import { appendNotifications } from '../src/journal/queries/journal.js';
import { TAKEOVER_HINT } from '../src/journal/recorder.js';

/** A database of each test's own (its journal is compared whole), and the jobset nixpkgs:trunk in it. */
const test = base
  .extend('db', async (): Promise<TestDatabase> => createTestDatabase())
  .extend('jobsetId', async ({ db }): Promise<number> => seedJobset(db.pool));

/** Fast takeovers for in-process instances: try the lock often, beat often. */
const FAST = { lockRetryMs: 100, heartbeatMs: 200 } as const;

type AnyEvent = {
  events: {
    __typename: string;
    channel: string;
    payload: string;
    cursor: string;
    source: string;
    from?: string;
    to?: string;
    buildId?: number;
  };
};
const eventsDocument = parse(`subscription ($after: String) { events(after: $after) {
  __typename channel payload cursor source
  ... on GapEvent { from to }
  ... on BuildFinishedEvent { buildId }
} }`) as TypedDocumentNode<AnyEvent, { after?: string }>;

type Added = { queueChanged: { lowestNewBuildId: number | null; cursor: string } };
const addedDocument = parse(`subscription { queueChanged(kinds: [BUILDS_ADDED]) { lowestNewBuildId cursor } }`) as TypedDocumentNode<
  Added,
  Record<string, never>
>;

type Finished = { buildFinished: { buildId: number; source: string; cursor: string; precededByGap: { from: string; to: string } | null } };
const finishedDocument = parse(`subscription ($after: String) { buildFinished(after: $after) {
  buildId source cursor precededByGap { from to }
} }`) as TypedDocumentNode<Finished, { after?: string }>;

/** The builds_added ids the journal holds, in position order. */
async function journaledIds(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query(
    `SELECT payload FROM hydra_notify_gateway.journal WHERE kind = 'notification' AND channel = 'builds_added' ORDER BY position`,
  );
  return rows.map((r: { payload: string }) => Number(r.payload));
}

/** Like `until`, for a condition that needs a query. */
async function untilAsync(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  let holds = false;
  await until(
    () => holds,
    timeoutMs,
    what,
    async () => {
      holds = await predicate();
    },
  );
}

/** Reads `stream` until it delivered builds_added `id`; returns every id read on the way. */
async function readUntil(stream: Stream<Added>, id: number, into: number[]): Promise<void> {
  while (into.at(-1) === undefined || into.at(-1)! < id) into.push((await stream.nextData()).queueChanged.lowestNewBuildId!);
}

/** Whether `ids` is `from, from + 1, …` without a hole or a repeat. */
function consecutive(ids: readonly number[]): boolean {
  return ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1);
}

describe('two instances on one database', () => {
  test('one records; the journal holds every notification once, in order; both deliver the same events and cursors', async ({ db }) => {
    const a = await startTestGateway(db.url, { instance: 'a', ...FAST });
    const b = await startTestGateway(db.url, { instance: 'b', ...FAST });
    const recording = () => [a, b].filter((g) => g.recorder.recording);
    await until(() => recording().length === 1, 10_000, 'one recorder');

    const streams = [a, b].map((g) => subscribeWs(wsClient(g.url), eventsDocument));
    await until(() => a.hub.size === 1 && b.hub.size === 1, 10_000, 'a subscription on each instance');

    // 500 notifications in 25 transactions, both styles, two build_finished split into chunks.
    const transactions: { style: NotifyStyle; notifications: [string, string][] }[] = [];
    let id = 1_000;
    for (let t = 0; t < 25; t++) {
      const batch: [string, string][] = [];
      for (let i = 0; i < 20; i++, id++) {
        batch.push(
          i % 10 === 4 ? ['eval_started', `trace${id}\t7`] : i % 10 === 9 ? ['build_queued', String(id)] : ['builds_added', String(id)],
        );
      }
      if (t === 8 || t === 17) {
        const head = id++;
        const chunks = buildFinishedPayloads(
          head,
          Array.from({ length: 2_500 }, (_, k) => 100_000 + t * 10_000 + k),
          true,
        );
        expect(chunks.length).toBeGreaterThan(1);
        batch.splice(7, chunks.length, ...chunks.map((p) => ['build_finished', p] as [string, string]));
      }
      transactions.push({ style: t % 2 ? 'function' : 'statement', notifications: batch });
    }
    const sent = transactions.flatMap((t) => t.notifications);
    expect(sent).toHaveLength(500);
    for (const { style, notifications } of transactions) await notify(db.pool, notifications, style);

    // The journal: each exactly once, in the order sent, by the one recorder.
    await untilAsync(async () => (await readJournal(db.pool)).filter((r) => r.kind === 'notification').length >= 500, 15_000, '500 rows');
    const rows = (await readJournal(db.pool)).filter((r) => r.kind === 'notification');
    expect(rows.map((r) => [r.channel, r.payload])).toEqual(sent);
    expect(new Set(rows.map((r) => r.recordedBy))).toEqual(new Set([recording()[0]!.instance]));

    // What subscribers receive: chunks of one build_finished merged into one event.
    const expected: [string, string][] = [];
    for (const [channel, payload] of sent) {
      const previous = expected.at(-1);
      if (
        channel === 'build_finished' &&
        previous?.[0] === 'build_finished' &&
        previous[1].split('\t', 1)[0] === payload.split('\t', 1)[0]
      ) {
        previous[1] += `\n${payload}`;
      } else expected.push([channel, payload]);
    }
    const [onA, onB] = await Promise.all(streams.map((s) => s.take(expected.length)));
    const seenA = onA!.map((e) => [e.events.channel, e.events.payload, e.events.cursor]);
    const seenB = onB!.map((e) => [e.events.channel, e.events.payload, e.events.cursor]);
    expect(seenA.map(([channel, payload]) => [channel, payload])).toEqual(expected);
    expect(seenB).toEqual(seenA);
    expect(new Set(seenA.map(([, , cursor]) => cursor)).size).toBe(expected.length);
    expect(onA!.filter((e) => e.events.channel === 'build_finished')).toHaveLength(2);

    // Still exactly one recorder, never handed over; the follower owes nothing.
    expect(recording()).toHaveLength(1);
    expect(a.recorder.takeovers + b.recorder.takeovers).toBe(1);
    const follower = a.recorder.recording ? b : a;
    await until(() => follower.recorder.backlog.size === 0, 10_000, "the follower's backlog drained by its reader");
  });
});

describe("the journal's hint", () => {
  test('follows each write in a statement of its own; a follower that never polls reads every write, a burst to its end', async ({
    db,
  }) => {
    const hints: string[] = [];
    const listening = await db.pool.connect();
    // Destroyed, not returned to the pool still listening.
    onCleanup(async () => listening.release(true));
    listening.on('notification', (n) => n.channel === JOURNAL_CHANNEL && hints.push(n.payload ?? ''));
    await listening.query(`LISTEN ${JOURNAL_CHANNEL}`);

    const a = await startTestGateway(db.url, { instance: 'a', ...FAST });
    await until(() => a.recorder.recording, 10_000, 'a recording');
    // Reads only when hinted: a missing hint would leave it ten minutes behind.
    const b = await startTestGateway(db.url, { instance: 'b', ...FAST, journalPollMs: 600_000 });
    const stream = subscribeWs(wsClient(b.url), eventsDocument);
    await until(() => b.hub.size === 1, 10_000, 'a subscription on the follower');

    await notify(db.pool, [['build_queued', '2']]);
    expect((await stream.nextData(5_000)).events.payload).toBe('2');
    // A burst: several journal writes back to back (1,000 rows each at most).
    const burst = Array.from({ length: 5 }, (_, t) =>
      Array.from({ length: 1_000 }, (_, i) => ['build_queued', String(3 + t * 1_000 + i)] as [string, string]),
    );
    for (const [t, batch] of burst.entries()) await notify(db.pool, batch, t % 2 ? 'function' : 'statement');
    const got = await stream.take(5_000, 10_000);
    expect(got.map((e) => Number(e.events.payload))).toEqual(burst.flat().map(([, p]) => Number(p)));

    // Every hint names a committed position, in increasing order, and the last one is the journal's end.
    const { rows } = await db.pool.query<{ last: string }>('SELECT max(position)::text AS last FROM hydra_notify_gateway.journal');
    await until(() => hints.at(-1) === rows[0]!.last, 5_000, 'the last position hinted');
    // (A takeover's own hint names no position.)
    const positions = hints.filter((h) => h !== TAKEOVER_HINT).map(Number);
    expect(positions.length).toBeGreaterThan(0);
    expect(positions.every((p, i) => Number.isInteger(p) && (i === 0 || p > positions[i - 1]!))).toBe(true);
    // The follower first: nobody takes over from the recorder.
    await b.close();
    await a.close();

    hints.length = 0;
    // The write itself notifies nothing: a NOTIFY in its transaction would hold Postgres's notify
    // lock through its commit, and Hydra's notifying commits behind it. A marker notified after
    // its commit, on the same connection, is the first hint heard (delivery follows commit order).
    // (After the gateways: a row written by hand before them would read as a gap at the takeover.)
    await transaction(db.pool, (tx) =>
      appendNotifications(
        tx,
        'by-hand',
        [{ channel: 'build_queued', payload: '1', receivedAt: new Date(), buildId: null, mark: null, offset: 0 }],
        {
          heartbeatAt: new Date(),
        },
      ),
    );
    await db.pool.query('SELECT pg_notify($1, $2)', [JOURNAL_CHANNEL, 'marker']);
    await until(() => hints.length > 0, 5_000, 'the marker');
    expect(hints.filter((h) => h !== TAKEOVER_HINT)).toEqual(['marker']);
  });
});

describe('the recorder killed for real', () => {
  test('a SIGKILLed recorder process is replaced by an instance that kept listening: nothing lost, nothing repeated, no gap', async ({
    db,
  }) => {
    const child = new StartCommand({ DATABASE_URL: db.url, PORT: '0', HNG_LOG_LEVEL: 'debug' }, tempDir());
    await child.waitForLog('recording the journal', 30_000);

    const writer = new Writer(db.pool, 1);
    const follower = await startTestGateway(db.url, { instance: 'follower', ...FAST });
    // Every id from here on is sent after the follower LISTENed.
    const from = writer.next;
    expect(follower.recorder.recording).toBe(false);
    const stream = subscribeWs(wsClient(follower.url), addedDocument);
    await until(() => follower.hub.size === 1, 10_000, 'subscription on the follower');
    const received: number[] = [];
    // The child journals, the follower delivers: well into the stream, kill the child.
    await readUntil(stream, from + 150, received);
    // SIGKILL to the whole group: no shutdown code runs.
    await child.destroy();
    await until(() => follower.recorder.recording, 5_000, 'the follower recording');
    expect(follower.recorder.takeovers).toBe(1);
    await readUntil(stream, writer.next + 150, received);
    const last = await writer.stop();
    await readUntil(stream, last, received);

    const ids = await journaledIds(db.pool);
    const afterListen = ids.filter((i) => i >= from);
    expect(afterListen).toEqual(Array.from({ length: last - from + 1 }, (_, i) => from + i));
    expect(ids.every((i, k) => k === 0 || i > ids[k - 1]!)).toBe(true);
    expect((await readJournal(db.pool)).filter((r) => r.kind !== 'notification')).toEqual([]);
    const recorders = new Set((await readJournal(db.pool)).map((r) => r.recordedBy));
    expect(recorders.has('follower') && recorders.size === 2).toBe(true);
    // The follower's subscriber saw the hand-over as one unbroken stream.
    expect(consecutive(received)).toBe(true);
    expect(received.at(-1)).toBe(last);
  }, 60_000);
});

describe('a window nobody heard', () => {
  test('becomes a gap row, then the pending build_finished recovered; resuming subscribers see both', async ({ db, jobsetId }) => {
    const first = await recordingGateway(db.url, { instance: 'first', ...FAST });

    const live = subscribeWs(wsClient(first.url), eventsDocument);
    await until(() => first.hub.size === 1, 10_000, 'subscription');
    const announced = await insertBuild(db.pool, jobsetId);
    await finishBuilds(db.pool, [announced]);
    const announcing = new Date();
    await notify(db.pool, [
      ['builds_added', '1'],
      ['build_finished', String(announced)],
    ]);
    const before = await live.take(2);
    expect(before.map((e) => e.events.channel)).toEqual(['builds_added', 'build_finished']);
    const cursor = before[1]!.events.cursor;
    const lastBefore = Math.max(...(await readJournal(db.pool)).map((r) => r.position));

    const closing = new Date();
    await first.close();
    const closed = new Date();

    // Nobody listens: a build finishes, and more is sent.
    const pending = await insertBuild(db.pool, jobsetId);
    await finishBuilds(db.pool, [pending]);
    await notify(db.pool, [
      ['build_finished', String(pending)],
      ['builds_added', '2'],
    ]);
    await notify(db.pool, [['builds_added', '3']], 'function');

    const starting = new Date();
    const second = await startTestGateway(db.url, { instance: 'second', ...FAST });
    const started = new Date();
    await until(() => second.recorder.recording, 10_000, 'second recording');

    const rows = await readJournal(db.pool, lastBefore);
    expect(rows.map((r) => [r.kind, r.channel, r.payload])).toEqual([
      ['gap', 'gap', ''],
      ['recovered', 'build_finished', String(pending)],
    ]);
    const gap = rows[0]!;
    // Gap bounds are on the database's clock, measured by each instance with an
    // error of up to half a round trip: allow a little slack around the local times.
    // The gap starts at the first instance's last heartbeat, which never passes what
    // its LISTEN connection proved it heard: at worst the round trip before the two
    // events above, a heartbeat or so before they were sent (on a loaded machine,
    // well before the close). It never reaches further back than that.
    const slack = 250;
    expect(gap.gapFrom!.getTime()).toBeGreaterThanOrEqual(announcing.getTime() - FAST.heartbeatMs - slack);
    expect(gap.gapFrom!.getTime()).toBeLessThanOrEqual(closed.getTime() + slack);
    expect(gap.gapTo!.getTime()).toBeGreaterThanOrEqual(starting.getTime() - slack);
    expect(gap.gapTo!.getTime()).toBeLessThanOrEqual(started.getTime() + slack);
    expect(await journaledIds(db.pool)).toEqual([1]);

    const window = { from: gap.gapFrom!.toISOString(), to: gap.gapTo!.toISOString() };
    const resumed = subscribeWs(wsClient(second.url), eventsDocument, { after: cursor });
    const [gapEvent, recovered] = (await resumed.take(2)).map((e) => e.events);
    expect(gapEvent).toMatchObject({ __typename: 'GapEvent', ...window });
    expect(recovered).toMatchObject({ __typename: 'BuildFinishedEvent', buildId: pending, source: 'RECOVERED' });

    const typed = subscribeWs(wsClient(second.url), finishedDocument, { after: cursor });
    expect((await typed.nextData()).buildFinished).toEqual({
      buildId: pending,
      source: 'RECOVERED',
      cursor: recovered!.cursor,
      precededByGap: window,
    });

    // Live again after the gap: a new notification follows on both streams, with no gap.
    await notify(db.pool, [['build_finished', String(announced)]]);
    expect((await resumed.nextData()).events).toMatchObject({ channel: 'build_finished', buildId: announced, source: 'LIVE' });
    expect((await typed.nextData()).buildFinished).toMatchObject({ buildId: announced, source: 'LIVE', precededByGap: null });
  });
});

describe("the recorder's LISTEN connection killed", () => {
  test('another instance takes over during the reconnect grace; nothing sent during the switch is lost or repeated', async ({ db }) => {
    const a = await recordingGateway(db.url, { instance: 'a', ...FAST, reconnectGraceMs: 1_000 });
    const b = await startTestGateway(db.url, { instance: 'b', ...FAST, reconnectGraceMs: 1_000 });
    expect(b.recorder.recording).toBe(false);

    const stream = subscribeWs(wsClient(b.url), addedDocument);
    await until(() => b.hub.size === 1, 10_000, 'subscription on b');
    const writer = new Writer(db.pool, 1);
    const received: number[] = [];
    await readUntil(stream, 150, received);

    const pid = a.listener.status.backendPid;
    expect(pid).toBeGreaterThan(0);
    const { rows } = await db.pool.query('SELECT pg_terminate_backend($1) AS killed', [pid]);
    expect(rows[0].killed).toBe(true);
    await until(() => b.recorder.recording, 5_000, 'b recording');
    await until(() => a.listener.status.reconnects === 1 && a.listener.status.connected, 5_000, 'a reconnected');
    // After its grace, a tries the lock again on a new recorder's connection (and fails), while the writer goes on.
    const lastQuery = async () =>
      String((await db.pool.query('SELECT query FROM pg_stat_activity WHERE pid = $1', [a.recorder.connectionPid])).rows[0]?.query);
    expect(await lastQuery()).not.toContain('tryRecorderLock');
    await untilAsync(async () => (await lastQuery()).includes('tryRecorderLock'), 5_000, 'a trying the lock again');
    expect([a.recorder.recording, b.recorder.recording]).toEqual([false, true]);
    await readUntil(stream, writer.next + 150, received);
    const last = await writer.stop();
    await readUntil(stream, last, received);

    expect(await journaledIds(db.pool)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    const journaled = await readJournal(db.pool);
    expect(journaled.filter((r) => r.kind !== 'notification')).toEqual([]);
    expect(new Set(journaled.map((r) => r.recordedBy))).toEqual(new Set(['a', 'b']));
    expect(consecutive(received)).toBe(true);
    expect(received.at(-1)).toBe(last);
    expect([a.recorder.recording, b.recorder.recording]).toEqual([false, true]);
    expect([a.recorder.takeovers, b.recorder.takeovers]).toEqual([1, 1]);
  });
});
