/**
 * Three gateway instances, each a real process (the start command over one
 * database), with clients spread across them: a graphql-ws and an SSE
 * subscriber of `events` on each, and consumers acknowledging through all
 * three at once. Under a steady stream of notifications the recorder is
 * SIGKILLed, and then the instance that took over from it.
 *
 * What must hold: one instance records at a time and another takes over
 * within about a second; the journal holds every notification once, in
 * order, without a gap (some instance always listened); every subscriber
 * receives every event once, in order, those whose instance died by
 * resuming on another one with their last cursor (graphql-ws: `events(after:)`,
 * SSE: `Last-Event-ID`); concurrent acknowledgements of one occurrence
 * through different instances yield exactly one ACKNOWLEDGED, and Hydra's
 * column is cleared exactly when the last active consumer acknowledged;
 * what finished during the kills is pending for every consumer.
 */
import type pg from 'pg';
import { describe, expect } from 'vitest';
import { request, requestData, until } from '../support/clients.js';
import { ACK, CREATE, finishAndNotify, PENDING, doc, pendingColumn } from '../support/consumers.js';
import { test } from '../support/fixtures.js';
import { insertBuildsOneByOne } from '../support/hydra.js';
import { type ChildGateway, shareAdminToken, startChildGateway } from '../support/child.js';
import { report } from './support/figures.js';
import { compareWithJournal, Subscriber } from './support/subscribers.js';
import { readJournal } from '../support/journal.js';
import { Writer } from '../support/writer.js';

const PAUSE = doc<unknown, { name: string }>('mutation ($name: String!) { pauseConsumer(name: $name) { name } }');
/** Fast takeovers: try the lock every 100 ms, beat every 200 ms. */
const FAST = { HNG_RECORDER_RETRY_MS: '100', HNG_HEARTBEAT_MS: '200' };
const CONSUMERS = ['c1', 'c2', 'c3'] as const;

/** The instance named in the recorder's state row: the one recording now (or the last one). */
async function recorderName(pool: pg.Pool): Promise<string | null> {
  const { rows } = await pool.query('SELECT instance FROM hydra_notify_gateway.recorder');
  return rows[0]?.instance ?? null;
}

/** A consumer's pending occurrences (build → pendingSince), read through `url`. */
async function pendingOf(url: string, consumer: string): Promise<Map<number, string>> {
  const { pendingBuildFinished } = await requestData(url, PENDING, { consumer });
  return new Map(pendingBuildFinished.edges.map((e) => [e.node.id, e.pendingSince]));
}

/**
 * Every (consumer, build) acknowledged through every instance of `through` at
 * once; returns the outcomes of each (consumer, build), one per instance.
 */
async function acknowledgeEverywhere(
  through: readonly ChildGateway[],
  consumers: readonly string[],
  occurrences: ReadonlyMap<number, string>,
): Promise<Map<string, string[]>> {
  const calls = consumers.flatMap((consumer) =>
    [...occurrences].flatMap(([buildId, pendingSince]) =>
      through.map(async (g) => {
        const result = await request(g.url, ACK, { buildId, pendingSince, consumer });
        return [`${consumer}:${buildId}`, result.data?.acknowledgeBuildFinished.outcome ?? JSON.stringify(result.errors)] as const;
      }),
    ),
  );
  const outcomes = new Map<string, string[]>();
  for (const [key, outcome] of await Promise.all(calls)) outcomes.set(key, [...(outcomes.get(key) ?? []), outcome]);
  return outcomes;
}

/** How many of each outcome, per (consumer, build). */
function tally(outcomes: Map<string, string[]>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const list of outcomes.values()) for (const o of list) counts[o] = (counts[o] ?? 0) + 1;
  return counts;
}

describe('three instances, the recorder SIGKILLed and then the next one', () => {
  test('every subscriber receives every event once, in order; acknowledgements through different instances stay consistent', async ({
    db,
    jobsetId,
  }) => {
    const a = await startChildGateway(db.url, { ...FAST, HNG_INSTANCE: 'a' });
    let recorder: string | null = null;
    const refreshRecorder = async () => void (recorder = await recorderName(db.pool));
    await until(() => recorder === 'a', 30_000, 'a recording', refreshRecorder);
    const [b, c] = await Promise.all([
      startChildGateway(db.url, { ...FAST, HNG_INSTANCE: 'b' }),
      startChildGateway(db.url, { ...FAST, HNG_INSTANCE: 'c' }),
    ]);
    const byName = new Map([
      ['a', a],
      ['b', b],
      ['c', c],
    ]);
    const alive = new Set<ChildGateway>([a, b, c]);
    await shareAdminToken([a, b, c]);

    // Consumers, created through different instances; a paused one never holds Hydra's column back.
    await Promise.all(CONSUMERS.map((name, i) => requestData([a, b, c][i]!.url, CREATE, { name })));
    await requestData(a.url, CREATE, { name: 'paused' });
    await requestData(b.url, PAUSE, { name: 'paused' });

    // A subscriber of each transport on each instance; when its instance dies, it resumes on the next one alive.
    const ring = [a, b, c];
    const next = (from: string) => {
      const i = ring.findIndex((g) => g.url === from);
      for (let k = 1; k <= ring.length; k++) if (alive.has(ring[(i + k) % ring.length]!)) return ring[(i + k) % ring.length]!.url;
      return null;
    };
    const subscribers = ring.flatMap((g) =>
      (['ws', 'sse'] as const).map(
        (transport) => new Subscriber(`${g.vars.HNG_INSTANCE}-${transport}`, transport, (previous) => (previous ? next(previous) : g.url)),
      ),
    );

    const writer = new Writer(db.pool, 1);
    await until(() => subscribers.every((s) => s.seen.length > 0), 30_000, 'every subscriber receiving');

    // Acknowledgements through all three instances at once, while the stream flows.
    const batch = await insertBuildsOneByOne(db.pool, jobsetId, 20);
    await finishAndNotify(db.pool, batch);
    let occurrences = new Map<number, string>();
    await until(
      () => occurrences.size === batch.length,
      20_000,
      'the finished builds pending for c1',
      async () => void (occurrences = await pendingOf(b.url, 'c1')),
    );
    const halfA = new Map([...occurrences].slice(0, 10));
    const halfB = new Map([...occurrences].slice(10));
    // Half A: c1 and c2 acknowledge (c3 still has it pending); half B: all three, at the same moment.
    const [roundA, roundB] = await Promise.all([
      acknowledgeEverywhere(ring, ['c1', 'c2'], halfA),
      acknowledgeEverywhere(ring, CONSUMERS, halfB),
    ]);
    const columnAfterRound1 = await Promise.all([...occurrences.keys()].map((id) => pendingColumn(db.pool, id)));
    const roundC = await acknowledgeEverywhere(ring, ['c3'], halfA);
    const columnAfterRound2 = await Promise.all([...occurrences.keys()].map((id) => pendingColumn(db.pool, id)));

    // The recorder killed, then the one that took over; builds finish while they go.
    const finishedDuringKills: number[] = [];
    const kills: { killed: string; replacedBy: string; takeoverMs: number }[] = [];
    const expectedResumes = new Map<Subscriber, number>();
    for (let round = 0; round < 2; round++) {
      const before = Math.max(...subscribers.map((s) => s.position));
      await until(() => subscribers.every((s) => s.position >= before + 300), 30_000, 'every subscriber well into the stream');
      await refreshRecorder();
      const victim = byName.get(recorder!)!;
      expect(alive.has(victim)).toBe(true);
      const builds = await insertBuildsOneByOne(db.pool, jobsetId, 10);
      for (const s of subscribers) if (s.url === victim.url) expectedResumes.set(s, (expectedResumes.get(s) ?? 0) + 1);
      const killedAt = Date.now();
      alive.delete(victim);
      // SIGKILL to its whole process group: no shutdown code runs.
      await victim.command.destroy();
      expect(victim.command.ended?.signal).toBe('SIGKILL');
      await finishAndNotify(db.pool, builds);
      finishedDuringKills.push(...builds);
      await until(() => recorder !== null && recorder !== victim.vars.HNG_INSTANCE, 10_000, 'another instance recording', refreshRecorder);
      kills.push({ killed: victim.vars.HNG_INSTANCE!, replacedBy: recorder!, takeoverMs: Date.now() - killedAt });
    }
    const survivor = [...alive][0]!;
    const last = await writer.stop();

    // Everything sent is journaled and has reached every subscriber (all on the survivor by now).
    let end = 0;
    await until(
      () => end > 0 && subscribers.every((s) => s.position >= end),
      60_000,
      'every subscriber at the end of the journal',
      async () => {
        const { rows } = await db.pool.query(
          `SELECT max(position) AS p FROM hydra_notify_gateway.journal WHERE EXISTS (
             SELECT 1 FROM hydra_notify_gateway.journal WHERE channel = 'builds_added' AND payload = $1)`,
          [String(last)],
        );
        end = Number(rows[0].p ?? 0);
      },
    );
    const journal = await readJournal(db.pool);
    const ids = journal.filter((r) => r.channel === 'builds_added').map((r) => Number(r.payload));
    const comparisons = subscribers.map((s) => compareWithJournal(s, journal));
    const pendingAfter = Object.fromEntries(
      await Promise.all(['c1', 'c2', 'c3', 'paused'].map(async (name) => [name, await pendingOf(survivor.url, name)] as const)),
    );
    // What finished during the kills, acknowledged by every active consumer through the survivor.
    const during = new Map([...pendingAfter.c1!].filter(([id]) => finishedDuringKills.includes(id)));
    const roundD = await acknowledgeEverywhere([survivor, survivor], CONSUMERS, during);
    const columnAfterRound3 = await Promise.all(finishedDuringKills.map((id) => pendingColumn(db.pool, id)));

    report('recorder-killed', {
      instances: 3,
      kills,
      notificationsSent: last,
      journaled: ids.length,
      journalDuplicates: ids.length - new Set(ids).size,
      gaps: journal.filter((r) => r.kind === 'gap').length,
      recordedBy: [...new Set(journal.map((r) => r.recordedBy))],
      subscribers: comparisons,
      acknowledgements: {
        concurrentRequests: [roundA, roundB, roundC, roundD].reduce((n, r) => n + [...r.values()].flat().length, 0),
        occurrences: [roundA, roundB, roundC, roundD].reduce((n, r) => n + r.size, 0),
        outcomes: [roundA, roundB, roundC, roundD].map(tally),
      },
      finishedDuringKills: finishedDuringKills.length,
      pendingAfterKills: Object.fromEntries(Object.entries(pendingAfter).map(([k, v]) => [k, v.size])),
    });

    // One takeover per kill, within about a second (and no gap: another instance kept listening).
    expect(kills.map((k) => k.killed)).toEqual(['a', kills[0]!.replacedBy]);
    for (const k of kills) expect(k.takeoverMs).toBeLessThan(5_000);
    expect(journal.filter((r) => r.kind !== 'notification')).toEqual([]);
    // The journal: every id once, in order, by the three recorders in turn.
    expect(ids).toEqual(Array.from({ length: last }, (_, i) => i + 1).filter((id) => ids[0]! <= id));
    expect(ids[0]).toBe(1);
    expect(new Set(journal.map((r) => r.recordedBy))).toEqual(new Set(['a', ...kills.map((k) => k.replacedBy)]));

    // Every subscriber: each journaled row once, in order, from its first; those of the killed instances resumed.
    for (const [i, s] of subscribers.entries()) {
      expect(comparisons[i]).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
      expect(s.seen.map((e) => e.position)).toEqual(journal.filter((r) => r.position >= s.seen[0]!.position).map((r) => r.position));
      expect([s.name, s.resumes]).toEqual([s.name, expectedResumes.get(s) ?? 0]);
    }

    // Concurrent acknowledgements: exactly one ACKNOWLEDGED per (consumer, occurrence), the others ALREADY_ACKNOWLEDGED.
    for (const round of [roundA, roundB, roundC, roundD]) {
      for (const [key, outcomes] of round) {
        expect([key, outcomes.filter((o) => o === 'ACKNOWLEDGED').length]).toEqual([key, 1]);
        expect([key, outcomes.filter((o) => o !== 'ACKNOWLEDGED' && o !== 'ALREADY_ACKNOWLEDGED')]).toEqual([key, []]);
      }
    }
    // Hydra's column: still set while c3 had half A pending, cleared once it acknowledged; the paused consumer never held it.
    expect(columnAfterRound1.map((v) => v !== null)).toEqual([...Array(10).fill(true), ...Array(10).fill(false)]);
    expect(columnAfterRound2).toEqual(Array(20).fill(null));
    expect(pendingAfter.paused!.size).toBe(batch.length + finishedDuringKills.length);
    // What finished during the kills: pending for every consumer, once; cleared after the last active one acknowledged.
    for (const name of CONSUMERS) expect([...pendingAfter[name]!.keys()].sort((x, y) => x - y)).toEqual(finishedDuringKills);
    expect(during.size).toBe(finishedDuringKills.length);
    expect(columnAfterRound3).toEqual(Array(finishedDuringKills.length).fill(null));
  }, 240_000);
});
