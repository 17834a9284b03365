/**
 * History and resumption beyond the basics: an instance started after the
 * events resumes a cursor with nothing lost (split build_finished included);
 * the `events` query and subscription filter by channel, rows and time, in
 * history and live alike; a cursor the journal never reached is refused; the
 * row queries; and rows read afresh for every event, never cached across
 * events.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { describe, expect } from 'vitest';
import { buildFinishedPayloads } from '../src/simulator/payloads.js';
import { BuildStartedDocument, EvaluationByIdDocument, JobsetByNameDocument } from '../src/client/generated/operations.js';
import { request, requestData, subscribeWs, until, wsClient } from './support/clients.js';
import { notify, type TestDatabase, watchStatements } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import { startTestGateway } from './support/gateway.js';
import { finishBuilds, insertBuild, insertBuilds, insertEval } from './support/hydra.js';

const test = fixtures({ instance: 'history' });

// Both jobsets are there before the first test: seeding one sends jobsets_added,
// which must not land in the journal inside a test's window.
test.beforeAll(async ({ gateway, jobsetId, otherJobsetId }) => {});

const doc = <T, V = Record<string, unknown>>(text: string) => parse(text) as TypedDocumentNode<T, V>;

async function journalEnd(db: TestDatabase): Promise<string> {
  const { rows } = await db.pool.query('SELECT coalesce(max(position), 0) AS p FROM hydra_notify_gateway.journal');
  return Buffer.from(`journal:${rows[0].p}`).toString('base64url');
}

describe('resuming on another instance', () => {
  test('an instance started after the events replays them whole, the last split build_finished included', async ({
    db,
    gateway,
    jobsetId: nixpkgs,
  }) => {
    const type = doc<{ buildFinished: { buildId: number; chunks: number; dependentIds: number[] } }, { after: string }>(
      'subscription ($after: String) { buildFinished(after: $after) { buildId chunks dependentIds } }',
    );
    const before = await journalEnd(db);
    const failed = await insertBuild(db.pool, nixpkgs);
    const dependents = await insertBuilds(db.pool, nixpkgs, 2_000);
    await finishBuilds(db.pool, [failed, ...dependents], { status: 1 });
    const chunks = buildFinishedPayloads(failed, dependents, true);
    expect(chunks.length).toBeGreaterThan(1);
    await notify(
      db.pool,
      chunks.map((c) => ['build_finished', c] as const),
    );
    const watcher = subscribeWs(wsClient(gateway.url), type, { after: before });
    expect((await watcher.nextData()).buildFinished).toMatchObject({ buildId: failed, chunks: chunks.length });

    // A second instance joins now: its reader starts at the journal's end, after those rows.
    const late = await startTestGateway(db.url, { instance: 'late' });
    const stream = subscribeWs(wsClient(late.url), type, { after: before });
    const { buildFinished } = await stream.nextData();
    expect(buildFinished.buildId).toBe(failed);
    expect(buildFinished.chunks).toBe(chunks.length);
    expect([...buildFinished.dependentIds].sort((a, b) => a - b)).toEqual(dependents);
    // And live ones follow, once.
    await notify(db.pool, [['build_finished', String(dependents[0])]]);
    expect((await stream.nextData()).buildFinished).toMatchObject({ buildId: dependents[0], chunks: 1 });
    await late.close();
  });

  test('refuses a cursor the journal has not reached', async ({ gateway }) => {
    const ahead = Buffer.from('journal:999999999').toString('base64url');
    const result = await request(gateway.url, doc('query ($after: String) { events(after: $after) { edges { cursor } } }'), {
      after: ahead,
    });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const stream = subscribeWs(
      wsClient(gateway.url),
      doc<unknown, { after: string }>('subscription ($after: String) { events(after: $after) { cursor } }'),
      {
        after: ahead,
      },
    );
    expect((await stream.next()).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('filtering history and live alike', () => {
  type Node = { channel: string; payload: string };
  const EVENTS = doc<{ events: { edges: { node: Node }[] } }, Record<string, unknown>>(
    `query ($after: String, $filter: EventFilter, $channels: [NotificationChannel!], $until: DateTime) {
       events(first: 500, after: $after, filter: $filter, channels: $channels, until: $until) { edges { node { channel payload } } } }`,
  );
  const LIVE = doc<{ events: Node }, Record<string, unknown>>(
    `subscription ($after: String, $filter: EventFilter, $channels: [NotificationChannel!]) {
       events(after: $after, filter: $filter, channels: $channels) { channel payload } }`,
  );

  test('events query and subscription select by channels and by the rows the events name', async ({
    db,
    gateway,
    jobsetId: nixpkgs,
    otherJobsetId: hydra,
  }) => {
    const after = await journalEnd(db);
    const inHydra = await insertBuild(db.pool, hydra, { job: 'manual' });
    const inNixpkgs = await insertBuild(db.pool, nixpkgs, { job: 'hello' });
    const sent = [
      ['build_queued', String(inHydra)],
      ['build_queued', String(inNixpkgs)],
      ['eval_started', `7.7.7\t${hydra}`],
      ['builds_added', String(inHydra)],
    ] as const;
    await notify(db.pool, sent);
    const history = async (variables: Record<string, unknown>) =>
      (await requestData(gateway.url, EVENTS, { after, ...variables })).events.edges.map((e) => `${e.node.channel}:${e.node.payload}`);
    // The four are in the journal once the recorder wrote them.
    await expect.poll(() => history({}), { timeout: 10_000 }).toHaveLength(4);

    expect(await history({ filter: { project: 'hydra' } })).toEqual([
      `build_queued:${inHydra}`,
      `eval_started:7.7.7\t${hydra}`,
      `builds_added:${inHydra}`,
    ]);
    expect(await history({ channels: ['BUILD_QUEUED'], filter: { job: 'hello' } })).toEqual([`build_queued:${inNixpkgs}`]);
    expect(await history({ until: '2000-01-01T00:00:00Z' })).toEqual([]);

    // The subscription replays with the same selection, then continues live.
    const stream = subscribeWs(wsClient(gateway.url), LIVE, {
      after,
      channels: ['BUILD_QUEUED', 'BUILDS_ADDED'],
      filter: { project: 'hydra' },
    });
    expect((await stream.take(2)).map((e) => `${e.events.channel}:${e.events.payload}`)).toEqual([
      `build_queued:${inHydra}`,
      `builds_added:${inHydra}`,
    ]);
    const next = await insertBuild(db.pool, hydra);
    await notify(db.pool, [
      ['build_queued', String(inNixpkgs)],
      ['eval_started', `8.8.8\t${hydra}`],
      ['build_queued', String(next)],
    ]);
    expect((await stream.nextData()).events).toEqual({ channel: 'build_queued', payload: String(next) });
  });
});

describe('rows', () => {
  test('evaluation(id) and jobset(project, name) return their rows', async ({ db, gateway, otherJobsetId: hydra }) => {
    const evalId = await insertEval(db.pool, hydra);
    expect((await requestData(gateway.url, EvaluationByIdDocument, { id: evalId })).evaluation).toEqual({
      id: evalId,
      hasNewBuilds: true,
      jobset: { name: 'master' },
    });
    expect((await requestData(gateway.url, JobsetByNameDocument, { project: 'hydra', name: 'master' })).jobset).toEqual({
      id: hydra,
      name: 'master',
      state: 'ENABLED',
      type: 'LEGACY',
      project: { name: 'hydra' },
    });
  });

  test('are loaded once per event, the build with its jobset and project in one statement, however many subscribers want them', async ({
    db,
    gateway,
    jobsetId: nixpkgs,
  }) => {
    const before = gateway.hub.size;
    const streams = Array.from({ length: 10 }, () => subscribeWs(wsClient(gateway.url), BuildStartedDocument));
    await until(() => gateway.hub.size === before + 10);
    // Count the statements the gateway's pool runs, by their leading comment.
    const counts = new Map<string, number>();
    const query = gateway.pool.query.bind(gateway.pool) as (...args: unknown[]) => Promise<unknown>;
    (gateway.pool as unknown as { query: unknown }).query = (text: unknown, ...rest: unknown[]) => {
      const sql = typeof text === 'string' ? text : (text as { text?: string } | undefined)?.text;
      const name = sql === undefined ? undefined : /\/\* (\w+) \*\//.exec(sql)?.[1];
      if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
      return query(text, ...rest);
    };
    try {
      const id = await insertBuild(db.pool, nixpkgs);
      await notify(db.pool, [['build_started', String(id)]]);
      for (const stream of streams) expect((await stream.nextData()).buildStarted.build?.jobset?.project?.name).toBe('nixpkgs');
    } finally {
      (gateway.pool as unknown as { query: unknown }).query = query;
    }
    expect(counts.get('buildWithJobset')).toBe(1);
    expect(counts.get('jobsetsById')).toBeUndefined();
    expect(counts.get('projectsByName')).toBeUndefined();
    for (const stream of streams) stream.dispose();
  });

  test('of an events page load in one statement for the whole page, filtered or not', async ({ db, gateway, jobsetId: nixpkgs }) => {
    const PAGE = doc<{ events: { edges: { node: { build?: { job: string; jobset: { project: { name: string } } } } }[] } }>(
      `query ($after: String, $filter: EventFilter) {
         events(first: 10, after: $after, filter: $filter, channels: [BUILD_QUEUED]) {
           edges { node { ... on BuildQueuedEvent { build { job jobset { project { name } } } } } } } }`,
    );
    const after = await journalEnd(db);
    const ids = await insertBuilds(db.pool, nixpkgs, 10);
    await notify(
      db.pool,
      ids.map((id) => ['build_queued', String(id)] as const),
    );
    await expect.poll(async () => (await requestData(gateway.url, PAGE, { after })).events.edges.length, { timeout: 10_000 }).toBe(10);
    // The statements the gateway's pool runs, by their leading comment, with their first parameter
    // (live subscribers of earlier tests may load these builds too, one event at a time).
    const { calls, restore } = watchStatements(gateway.pool);
    try {
      for (const filter of [null, { project: 'nixpkgs' }]) {
        calls.length = 0;
        const { events } = await requestData(gateway.url, PAGE, { after, filter });
        expect(events.edges.map((e) => e.node.build?.jobset.project.name)).toEqual(ids.map(() => 'nixpkgs'));
        const wholePage = calls.filter((c) => c.name === 'buildsWithJobsets' && ids.every((id) => (c.first as number[]).includes(id)));
        expect(wholePage).toHaveLength(1);
        expect(calls.filter((c) => c.name === 'jobsetsById' || c.name === 'projectsByName')).toEqual([]);
      }
    } finally {
      restore();
    }
  });

  test('are read afresh for every event: a subscription of hours never serves a stale row', async ({ db, gateway, jobsetId: nixpkgs }) => {
    // From the end of the journal: what comes after is delivered however late the subscription
    // registers (the previous test's subscribers may still count in the hub).
    const stream = subscribeWs(wsClient(gateway.url), BuildStartedDocument, { after: await journalEnd(db) });
    const id = await insertBuild(db.pool, nixpkgs, { job: 'before' });
    await notify(db.pool, [['build_started', String(id)]]);
    expect((await stream.nextData()).buildStarted.build?.job).toBe('before');
    await db.pool.query(`UPDATE builds SET job = 'after' WHERE id = $1`, [id]);
    await notify(db.pool, [['build_started', String(id)]]);
    expect((await stream.nextData()).buildStarted.build?.job).toBe('after');
  });
});
