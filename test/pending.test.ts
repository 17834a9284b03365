/**
 * `pendingBuildFinished` over real HTTP against a real gateway: only finished
 * builds whose `notificationpendingsince` is set are listed, oldest first by
 * (pendingSince, id); keyset pagination chains `endCursor`s without gaps or
 * repeats, also when a build of an earlier page is acknowledged between page
 * fetches; the filter narrows by project, jobset, job, system and build id;
 * out-of-range `first` and foreign cursors are BAD_USER_INPUT; and the query
 * the module runs is served by Hydra's partial index on
 * `notificationpendingsince`. Rows are written with SQL the way Hydra writes
 * them; every test works in a project of its own so tests do not see each
 * other's backlog.
 */
import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { describe, expect } from 'vitest';
import { pendingBuildsStatement } from '../src/hydra/queries/pendingBuilds.js';
import {
  AcknowledgeBuildFinishedDocument,
  PendingBuildFinishedDocument,
  type PendingBuildFinishedQuery,
} from '../src/client/generated/operations.js';
import { request, requestData } from './support/clients.js';
import { test as base } from './support/fixtures.js';
import { finishBuilds, insertBuild, restartBuild, seedJobset } from './support/hydra.js';

/** A fixed instant (2027-01-15) so pendingSince values are exact and comparable. */
const T0 = 1_800_000_000;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

type Page = PendingBuildFinishedQuery['pendingBuildFinished'];

/** This file's helpers, each a fixture bound to the file's database and gateway. */
const test = base
  /** A project of the test's own, with one jobset; returns the names and the jobset id. */
  .extend('freshProject', async ({ db }) => async (jobset = 'trunk') => {
    const project = `p${randomBytes(4).toString('hex')}`;
    return { project, jobset, jobsetId: await seedJobset(db.pool, project, jobset) };
  })
  /** A build finished at `stopTime` (pending since then). */
  .extend(
    'pendingBuild',
    async ({ db }) =>
      async (jobsetId: number, stopTime: number, fields: { job?: string; system?: string } = {}): Promise<number> => {
        const id = await insertBuild(db.pool, jobsetId, fields);
        await finishBuilds(db.pool, [id], { stopTime });
        return id;
      },
  )
  .extend(
    'page',
    async ({ gateway }) =>
      async (variables: { first?: number; after?: string | null; filter?: Record<string, unknown> }): Promise<Page> =>
        (await requestData(gateway.url, PendingBuildFinishedDocument, variables)).pendingBuildFinished,
  )
  /** 25 pending builds, three to a second, finished in an order unlike their ids. */
  .extend('backlog25', async ({ freshProject, pendingBuild }) => async () => {
    const fresh = await freshProject();
    const made: { id: number; since: number }[] = [];
    for (let i = 0; i < 25; i++) {
      const since = T0 + 1000 - Math.floor(i / 3);
      made.push({ id: await pendingBuild(fresh.jobsetId, since), since });
    }
    const expected = made.sort((x, y) => x.since - y.since || x.id - y.id).map((b) => b.id);
    return { ...fresh, expected };
  });

const ids = (p: Page) => p.edges.map((e) => e.node.id);

describe('what is pending', () => {
  test('lists only pending builds, oldest first by (pendingSince, id); equal pendingSince by id', async ({
    db,
    freshProject,
    pendingBuild,
    page,
  }) => {
    const { project, jobsetId } = await freshProject();
    // Created in this order, finished at times that do not follow it.
    const late = await pendingBuild(jobsetId, T0 + 30);
    const tieA = await pendingBuild(jobsetId, T0 + 10);
    const early = await pendingBuild(jobsetId, T0 + 5);
    const tieB = await pendingBuild(jobsetId, T0 + 10);
    const tieC = await pendingBuild(jobsetId, T0 + 10);
    // Acknowledged (finished, pending cleared), queued, and restarted after a finish (finished = 0).
    const acknowledged = await pendingBuild(jobsetId, T0 + 1);
    await db.pool.query('UPDATE builds SET notificationpendingsince = NULL WHERE id = $1', [acknowledged]);
    const queued = await insertBuild(db.pool, jobsetId);
    const restarted = await pendingBuild(jobsetId, T0 + 2);
    await restartBuild(db.pool, restarted);
    await db.pool.query('UPDATE builds SET notificationpendingsince = NULL WHERE id = $1', [restarted]);

    const result = await page({ filter: { project } });
    expect(ids(result)).toEqual([early, tieA, tieB, tieC, late]);
    expect(ids(result)).not.toContain(acknowledged);
    expect(ids(result)).not.toContain(queued);
    expect(result.edges.map((e) => e.pendingSince)).toEqual([T0 + 5, T0 + 10, T0 + 10, T0 + 10, T0 + 30].map(iso));
    expect(result.pageInfo).toEqual({ hasNextPage: false, endCursor: result.edges.at(-1)!.cursor });
  });

  test('is ordered by (pendingSince, id) across every project when unfiltered', async ({ db, freshProject, pendingBuild, page }) => {
    const a = await freshProject();
    const b = await freshProject();
    await pendingBuild(a.jobsetId, T0 + 100);
    await pendingBuild(b.jobsetId, T0 + 50);
    await pendingBuild(a.jobsetId, T0 + 50);
    const all = await page({ first: 500 });
    const keys = all.edges.map((e) => [Date.parse(e.pendingSince), e.node.id] as const);
    const sorted = [...keys].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    expect(keys).toEqual(sorted);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM builds WHERE notificationpendingsince IS NOT NULL');
    expect(all.edges).toHaveLength(rows[0].n);
  });

  test("gives each edge the pendingSince of its node's notificationPendingSince", async ({ db, freshProject, pendingBuild, page }) => {
    const { project, jobsetId } = await freshProject();
    await pendingBuild(jobsetId, T0 + 7);
    await pendingBuild(jobsetId, T0 + 3);
    const result = await page({ filter: { project } });
    expect(result.edges).toHaveLength(2);
    for (const edge of result.edges) {
      expect(edge.pendingSince).toBe(edge.node.notificationPendingSince);
      const { rows } = await db.pool.query('SELECT notificationpendingsince AS p FROM builds WHERE id = $1', [edge.node.id]);
      expect(edge.pendingSince).toBe(iso(rows[0].p));
    }
  });

  test("shows a pending build's every field as build(id:) shows it: nulls, flags, bigint sizes, text", async ({
    db,
    gateway,
    freshProject,
    pendingBuild,
  }) => {
    const { project, jobsetId } = await freshProject();
    const bare = await pendingBuild(jobsetId, T0 + 1);
    const full = await pendingBuild(jobsetId, T0 + 2);
    // Every optional column set, sizes past 2^32, text with quotes, a backslash and non-ASCII.
    await db.pool.query(
      `UPDATE builds SET nixname = 'hello-2.12', description = 'say "hi" \\ grüße', priority = 7, globalpriority = -3,
         iscachedbuild = 1, size = 5000000000, closuresize = 9007199254740991, releasename = 'rel-1', keep = 1
       WHERE id = $1`,
      [full],
    );
    const fields = `id finished timestamp jobsetId job nixName description drvPath system priority globalPriority
      startTime stopTime isCachedBuild buildStatus buildStatusCode size closureSize releaseName keep notificationPendingSince`;
    type Fields = Record<string, unknown>;
    const pendingDoc = parse(
      `query ($project: String) { pendingBuildFinished(filter: { project: $project }) { edges { node { ${fields} } } } }`,
    ) as TypedDocumentNode<{ pendingBuildFinished: { edges: { node: Fields }[] } }, { project: string }>;
    const byId = parse(`query ($id: Int!) { build(id: $id) { ${fields} } }`) as TypedDocumentNode<{ build: Fields }, { id: number }>;

    const listed = (await requestData(gateway.url, pendingDoc, { project })).pendingBuildFinished.edges.map((e) => e.node);
    expect(listed.map((b) => b.id)).toEqual([bare, full]);
    for (const node of listed) expect(node).toEqual((await requestData(gateway.url, byId, { id: node.id as number })).build);
    expect(listed[1]).toMatchObject({
      description: 'say "hi" \\ grüße',
      size: 5_000_000_000,
      closureSize: 9_007_199_254_740_991,
      isCachedBuild: true,
      keep: true,
      globalPriority: -3,
    });
    expect(listed[0]).toMatchObject({ description: null, size: null, releaseName: null, keep: false });
  });

  test('answers an empty page for a backlog of nothing', async ({ freshProject, page }) => {
    const { project } = await freshProject();
    expect(await page({ filter: { project } })).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });
});

describe('pagination', () => {
  test('pages 25 pending builds 10 at a time: 10, 10, 5, chained by endCursor, each once', async ({ page, backlog25 }) => {
    const { project, expected } = await backlog25();
    const filter = { project };
    const pages: Page[] = [];
    let after: string | null = null;
    do {
      const p = await page({ first: 10, after, filter });
      pages.push(p);
      after = p.pageInfo.endCursor;
    } while (pages.at(-1)!.pageInfo.hasNextPage);

    expect(pages.map((p) => p.edges.length)).toEqual([10, 10, 5]);
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, false]);
    for (const p of pages) expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)!.cursor);
    const seen = pages.flatMap(ids);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expected);

    // After the last item nothing follows.
    expect(await page({ first: 10, after: pages[2]!.pageInfo.endCursor, filter })).toEqual({
      edges: [],
      pageInfo: { hasNextPage: false, endCursor: null },
    });
  });

  test('skips nothing when builds of an earlier page, the cursor build included, are acknowledged between fetches', async ({
    gateway,
    page,
    backlog25,
  }) => {
    const { project, expected } = await backlog25();
    const filter = { project };
    const first = await page({ first: 10, filter });
    expect(ids(first)).toEqual(expected.slice(0, 10));

    // Acknowledge the first build and the one the cursor points at, through the API.
    for (const edge of [first.edges[0]!, first.edges[9]!]) {
      const ack = await requestData(gateway.url, AcknowledgeBuildFinishedDocument, {
        buildId: edge.node.id,
        pendingSince: edge.pendingSince,
      });
      expect(ack.acknowledgeBuildFinished.outcome).toBe('ACKNOWLEDGED');
    }

    const second = await page({ first: 10, after: first.pageInfo.endCursor, filter });
    expect(ids(second)).toEqual(expected.slice(10, 20));
    const third = await page({ first: 10, after: second.pageInfo.endCursor, filter });
    expect(ids(third)).toEqual(expected.slice(20));
    expect(third.pageInfo.hasNextPage).toBe(false);

    // From the start, the acknowledged ones are gone and the rest shift up.
    const again = await page({ first: 10, filter });
    expect(ids(again)).toEqual(expected.filter((id) => id !== expected[0] && id !== expected[9]).slice(0, 10));
  });

  test('accepts the bounds 0 and 500 for first', async ({ freshProject, pendingBuild, page }) => {
    const { project, jobsetId } = await freshProject();
    await pendingBuild(jobsetId, T0);
    expect(await page({ first: 0, filter: { project } })).toEqual({ edges: [], pageInfo: { hasNextPage: true, endCursor: null } });
    expect(ids(await page({ first: 500, filter: { project } }))).toHaveLength(1);
  });
});

describe('filter', () => {
  test('narrows by project, jobset, job, system and buildId, ANDed', async ({ db, freshProject, pendingBuild, page }) => {
    const { project, jobsetId: trunk } = await freshProject('trunk');
    const staging = await seedJobset(db.pool, project, 'staging');
    const other = await freshProject('trunk');
    const hello = await pendingBuild(trunk, T0 + 1, { job: 'hello.x86_64-linux', system: 'x86_64-linux' });
    const helloArm = await pendingBuild(trunk, T0 + 2, { job: 'hello.aarch64-linux', system: 'aarch64-linux' });
    const stagingHello = await pendingBuild(staging, T0 + 3, { job: 'hello.x86_64-linux', system: 'x86_64-linux' });
    const otherHello = await pendingBuild(other.jobsetId, T0 + 4, { job: 'hello.x86_64-linux', system: 'x86_64-linux' });

    expect(ids(await page({ filter: { project } }))).toEqual([hello, helloArm, stagingHello]);
    expect(ids(await page({ filter: { project: other.project } }))).toEqual([otherHello]);
    expect(ids(await page({ filter: { project, jobset: 'staging' } }))).toEqual([stagingHello]);
    expect(ids(await page({ filter: { project, jobset: 'trunk' } }))).toEqual([hello, helloArm]);
    expect(ids(await page({ filter: { project, job: 'hello.x86_64-linux' } }))).toEqual([hello, stagingHello]);
    expect(ids(await page({ filter: { project, system: 'aarch64-linux' } }))).toEqual([helloArm]);
    expect(ids(await page({ filter: { buildId: otherHello } }))).toEqual([otherHello]);
    expect(ids(await page({ filter: { project, buildId: otherHello } }))).toEqual([]);
    expect(ids(await page({ filter: { project: `${project}-nope` } }))).toEqual([]);
  });

  test('paginates within a filter', async ({ freshProject, pendingBuild, page }) => {
    const { project, jobsetId } = await freshProject();
    const wanted: number[] = [];
    for (let i = 0; i < 6; i++) {
      const id = await pendingBuild(jobsetId, T0 + i, { system: i % 2 ? 'aarch64-linux' : 'x86_64-linux' });
      if (i % 2) wanted.push(id);
    }
    const filter = { project, system: 'aarch64-linux' };
    const first = await page({ first: 2, filter });
    expect(ids(first)).toEqual(wanted.slice(0, 2));
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await page({ first: 2, after: first.pageInfo.endCursor, filter });
    expect(ids(second)).toEqual(wanted.slice(2));
    expect(second.pageInfo.hasNextPage).toBe(false);
  });
});

describe('bad arguments', () => {
  const cursor = (text: string) => Buffer.from(text).toString('base64url');

  test.for<[string, { first?: number; after?: string }]>([
    ['first: -1', { first: -1 }],
    ['first: 501', { first: 501 }],
    ['a garbage cursor', { after: 'not-a-cursor!' }],
    ['a cursor of another connection', { after: cursor('events:1800000000:1') }],
    ['a cursor with a negative id', { after: cursor('pending:1800000000:-1') }],
    ['a cursor beyond 32-bit integers', { after: cursor('pending:9999999999:1') }],
  ])('%s is BAD_USER_INPUT', async ([, variables], { gateway }) => {
    const result = await request(gateway.url, PendingBuildFinishedDocument, variables);
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors![0]!.path).toEqual(['pendingBuildFinished']);
  });
});

describe('query plan', () => {
  test("runs on Hydra's partial index on notificationpendingsince", async ({ db, freshProject, pendingBuild, page }) => {
    const { rows: indexes } = await db.pool.query(
      `SELECT indexname FROM pg_indexes WHERE tablename = 'builds' AND indexdef LIKE '%(notificationpendingsince)%WHERE%IS NOT NULL%'`,
    );
    expect(indexes).toEqual([{ indexname: 'indexbuildsonnotificationpendingsince' }]);

    // A realistic shape: 20,000 builds, all finished and acknowledged but a handful.
    const { project, jobsetId } = await freshProject();
    await db.pool.query(
      `INSERT INTO builds (finished, timestamp, jobset_id, job, drvpath, system, starttime, stoptime, buildstatus)
       SELECT 1, $1, $2, 'bulk' || g, '/nix/store/' || g || '-bulk.drv', 'x86_64-linux', $1 + g, $1 + g + 10, 0
       FROM generate_series(1, 20000) g`,
      [T0, jobsetId],
    );
    for (let i = 0; i < 5; i++) await pendingBuild(jobsetId, T0 + 50_000 + i);
    await db.pool.query('ANALYZE builds');
    await db.pool.query('ANALYZE jobsets');

    const explain = async (query: Parameters<typeof pendingBuildsStatement>[0]) => {
      const { text, values } = pendingBuildsStatement(query);
      const { rows } = await db.pool.query(`EXPLAIN ${text}`, values);
      return rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
    };
    // The first page, unfiltered; a later page; a filtered page.
    const plans = [
      await explain({ after: null, limit: 50, filter: {} }),
      await explain({ after: { since: T0 + 50_001, id: 1 }, limit: 10, filter: {} }),
      await explain({ after: null, limit: 50, filter: { project, jobset: 'trunk', system: 'x86_64-linux' } }),
    ];
    for (const plan of plans) {
      expect(plan).toContain('indexbuildsonnotificationpendingsince');
      expect(plan).not.toMatch(/Seq Scan on builds/);
    }

    // And the answer through the API is the five pending ones.
    expect(ids(await page({ filter: { project } }))).toHaveLength(5);
  });
});
