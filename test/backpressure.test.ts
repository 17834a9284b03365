/**
 * Back-pressure on the LISTEN connection, against the real Postgres: a burst
 * larger than what an instance may hold (an evaluation's commit, sent as
 * Hydra sends it, `SELECT pg_notify(…)` over a thousand ids per transaction)
 * pauses the LISTEN socket, so the notifications wait in Postgres's queue
 * instead of the gateway's memory, and the backlog stays bounded while every
 * notification is journaled once, in order, and delivered. A follower that
 * paused behind the recorder takes over mid-burst with nothing lost, repeated
 * or gapped. A recorder that cannot write at all does not hold Postgres's
 * queue forever: its paused connection is dropped after `listenerMaxPauseMs`
 * and the window it could not read is journaled as a gap, explicitly.
 * Every database, gateway, client and connection is disposed after the file.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import pg from 'pg';
import { describe, expect, test as base } from 'vitest';
import { subscribeWs, until, wsClient } from './support/clients.js';
import { createTestDatabase, transaction, type TestDatabase } from './support/database.js';
import { recordingGateway } from './support/fixtures.js';
import { onCleanup, startTestGateway } from './support/gateway.js';
import { readJournal } from './support/journal.js';
import { hasRecord } from './support/logs.js';

/** A database of each test's own: its journal is compared whole. */
const test = base.extend('db', async (): Promise<TestDatabase> => createTestDatabase());

/** Small limits, so that a test-sized burst exceeds them many times over. */
const SMALL = { maxListenerBacklog: 300, lockRetryMs: 100, heartbeatMs: 200, reconnectGraceMs: 300 } as const;

/** What one socket read can hand the listener past the limit before the pause takes effect (64 KiB of ~28-byte messages), with room. */
const ONE_READ = 5_000;

type Added = { queueChanged: { lowestNewBuildId: number | null } };
const addedDocument = parse(`subscription { queueChanged(kinds: [BUILDS_ADDED]) { lowestNewBuildId } }`) as TypedDocumentNode<
  Added,
  Record<string, never>
>;

/** Sends builds_added `first`…`last` as Hydra commits an evaluation: a thousand `pg_notify` per transaction. */
async function burst(pool: pg.Pool, first: number, last: number): Promise<void> {
  for (let from = first; from <= last; from += 1_000) {
    const to = Math.min(last, from + 999);
    await transaction(pool, (client) =>
      client.query(`SELECT pg_notify('builds_added', g::text) FROM generate_series($1::int, $2::int) g`, [from, to]),
    );
  }
}

/** The builds_added ids the journal holds, in position order. */
async function journaledIds(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query(
    `SELECT payload FROM hydra_notify_gateway.journal WHERE kind = 'notification' AND channel = 'builds_added' ORDER BY position`,
  );
  return rows.map((r: { payload: string }) => Number(r.payload));
}

async function journaledCount(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM hydra_notify_gateway.journal WHERE channel = 'builds_added'`);
  return rows[0].n;
}

const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

describe('a burst larger than the backlog limit', () => {
  test('pauses the LISTEN socket and keeps the backlog bounded; every notification is journaled once, in order, and delivered', async ({
    db,
  }) => {
    const gateway = await recordingGateway(db.url, { instance: 'bounded', ...SMALL });
    const stream = subscribeWs(wsClient(gateway.url), addedDocument);
    await until(() => gateway.hub.size === 1, 10_000, 'subscribed');

    const total = 30_000;
    await burst(db.pool, 1, total);
    const received: number[] = [];
    while (received.length < total) received.push((await stream.nextData()).queueChanged.lowestNewBuildId!);

    expect(received).toEqual(range(1, total));
    expect(await journaledIds(db.pool)).toEqual(range(1, total));
    expect(gateway.listener.status.pauses).toBeGreaterThan(0);
    // Without the pause the backlog takes in the burst as fast as Postgres sends it: tens of thousands.
    expect(gateway.recorder.backlog.peak).toBeLessThan(SMALL.maxListenerBacklog + ONE_READ);
    await until(() => !gateway.listener.status.paused && gateway.recorder.backlog.size === 0, 5_000, 'reading again, nothing held');
    expect((await readJournal(db.pool)).filter((r) => r.kind !== 'notification')).toEqual([]);
  });
});

describe('a follower paused behind the recorder', () => {
  test('takes over mid-burst when the recorder is cut off: nothing lost, nothing repeated, the backlog bounded', async ({ db }) => {
    const a = await recordingGateway(db.url, { instance: 'a', ...SMALL });
    const b = await startTestGateway(db.url, { instance: 'b', ...SMALL });
    expect(b.recorder.recording).toBe(false);
    const stream = subscribeWs(wsClient(b.url), addedDocument);
    await until(() => b.hub.size === 1, 10_000, 'subscribed on b');

    const total = 40_000;
    const sending = burst(db.pool, 1, total);
    let journaledByA = 0;
    await until(
      () => a.listener.status.pauses > 0 && b.listener.status.pauses > 0 && journaledByA > 0,
      20_000,
      'both paused, a recording',
      async () => void (journaledByA = await journaledCount(db.pool)),
    );
    // Cut a off: its LISTEN session and its recorder's session, as a network partition would.
    const pids = [a.listener.status.backendPid, a.recorder.connectionPid];
    expect(pids.every((pid) => typeof pid === 'number')).toBe(true);
    await db.pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    await until(() => b.recorder.recording, 10_000, 'b recording');
    await sending;

    const received: number[] = [];
    while (received.length < total) received.push((await stream.nextData()).queueChanged.lowestNewBuildId!);
    expect(received).toEqual(range(1, total));
    expect(await journaledIds(db.pool)).toEqual(range(1, total));
    const journal = await readJournal(db.pool);
    // Every id once, in order, above. The old recorder's heartbeat was held back by its pause, so
    // a takeover that cannot place its stream by key writes a (conservative) gap row rather than
    // guess (recorder.ts, decision 2): cases a and b there. Waiting for a's first commit rules out
    // a; b needs b's first mark to land after the burst's first commit. Nothing else may appear.
    expect(journal.filter((r) => r.kind !== 'notification' && r.kind !== 'gap')).toEqual([]);
    expect(journal.filter((r) => r.kind === 'gap').length).toBeLessThanOrEqual(1);
    expect(new Set(journal.map((r) => r.recordedBy))).toEqual(new Set(['a', 'b']));
    // The takeover's catch-up reads what it was behind without pausing: a few socket reads more
    // than the limit, never the 40,000 it takes in without the back-pressure.
    expect(b.recorder.backlog.peak).toBeLessThan(SMALL.maxListenerBacklog + 3 * ONE_READ);
  }, 60_000);
});

describe('a recorder that cannot write', () => {
  test("does not hold Postgres's queue: its paused connection is dropped, and what it could not read is journaled as a gap", async ({
    db,
  }) => {
    const gateway = await recordingGateway(db.url, { instance: 'stuck', ...SMALL, listenerMaxPauseMs: 500 });
    await burst(db.pool, 1, 1_000);
    let count = 0;
    await until(
      () => count === 1_000,
      10_000,
      'the first thousand journaled',
      async () => void (count = await journaledCount(db.pool)),
    );

    // Something holds the journal: every write of the recorder waits.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    onCleanup(() => blocker.end());
    await blocker.query('BEGIN; LOCK TABLE hydra_notify_gateway.journal IN ACCESS EXCLUSIVE MODE');
    await burst(db.pool, 1_001, 20_000);
    await until(
      () => hasRecord(gateway.logs, 'listener connection lost', { level: 'warn', component: 'listener' }),
      10_000,
      'the paused connection dropped',
    );
    expect(gateway.logs.join('\n')).toMatch(/reading paused for \d+ s/);
    await blocker.query('COMMIT');

    // After the window, notifications are heard and journaled again, after a gap row.
    await until(() => gateway.recorder.recording && gateway.listener.status.connected, 15_000, 'recording again');
    await burst(db.pool, 20_001, 20_010);
    let last: number | undefined;
    await until(
      () => last === 20_010,
      10_000,
      'the next ones journaled',
      async () => void (last = (await journaledIds(db.pool)).at(-1)),
    );

    const journal = await readJournal(db.pool);
    const gaps = journal.filter((r) => r.kind === 'gap');
    expect(gaps).toHaveLength(1);
    const ids = journal.filter((r) => r.kind === 'notification').map((r) => Number(r.payload));
    // Whatever was journaled is in order and once; the ids it could not read lie inside the gap.
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    const gapAt = journal.indexOf(gaps[0]!);
    const before = journal.slice(0, gapAt).map((r) => Number(r.payload));
    const after = journal.slice(gapAt + 1).map((r) => Number(r.payload));
    expect(before.slice(0, 1_000)).toEqual(range(1, 1_000));
    expect(after).toEqual(range(20_001, 20_010));
  }, 60_000);
});
