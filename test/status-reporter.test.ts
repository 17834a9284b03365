/**
 * The commit-status reporter against a local forge that speaks GitHub's
 * statuses API (test/support/forge.ts): evaluations with a git input or a
 * locked flake, builds queued, failing, and cached, Hydra's NOTIFYs sent in
 * transactions. Statuses arrive pending then final, in order per build, for
 * cached and already-built jobs too, through a 403 rate limit with
 * Retry-After; an answer retrying cannot change leaves the status dead, in
 * view.
 */
import type pg from 'pg';
import { describe, expect } from 'vitest';
import { request, requestData, until } from './support/clients.js';
import { doc } from './support/consumers.js';
import { notify } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import { startForge } from './support/forge.js';
import { finishBuilds, insertBuild, insertEval } from './support/hydra.js';

const test = fixtures({ webhooks: { schedule: [100, 200, 400], timeoutMs: 1_000, tickMs: 50, leaseMs: 5_000 } });

const WIDGETS = 'acme/widgets';
const FLAKES = 'acme/flakes';
const sha = (n: number) => n.toString(16).padStart(40, 'a');
const AUTH = 'token ghs_test_reporter';

const CREATE_REPORTER = doc<
  { createStatusReporter: { name: string; kind: string; reporter: { provider: string; rules: { jobs: string }[] } } },
  { name: string; baseUrl: string; authorization: string; provider?: string; rules: unknown[] }
>(
  `mutation ($name: String!, $baseUrl: String!, $authorization: String!, $provider: Forge = GITHUB, $rules: [StatusRuleInput!]!) {
     createStatusReporter(name: $name, provider: $provider, baseUrl: $baseUrl, authorization: $authorization, hydraUrl: "https://hydra.example.org", rules: $rules) {
       name kind reporter { provider rules { jobs } }
     }
   }`,
);
const DELIVERIES = doc<
  { webhook: { deliveries: { edges: { node: { state: string; lastStatus: number | null; attempts: number; url: string } }[] } } },
  { name: string }
>('query ($name: String!) { webhook(name: $name) { deliveries(first: 100) { edges { node { state lastStatus attempts url } } } } }');

/** An evaluation of `jobsetId` whose input `src` is `repository` at `rev`. */
async function evalWithInput(pool: pg.Pool, jobsetId: number, repository: string, rev: string): Promise<number> {
  const id = await insertEval(pool, jobsetId);
  await pool.query(`INSERT INTO jobsetevalinputs (eval, name, altnr, type, uri, revision) VALUES ($1, 'src', 0, 'git', $2, $3)`, [
    id,
    `https://github.com/${repository}.git`,
    rev,
  ]);
  return id;
}

/** Adds builds to an evaluation, as the evaluator does. */
async function addMembers(pool: pg.Pool, evaluation: number, builds: number[]): Promise<void> {
  for (const build of builds)
    await pool.query('INSERT INTO jobsetevalmembers (eval, build, isnew) VALUES ($1, $2, 1)', [evaluation, build]);
}

describe('commit-status reporter', () => {
  test('pending when queued, failure when it fails, through a 403 rate limit with Retry-After; success for a cached job on its evaluation only', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const forge = await startForge({ authorization: AUTH, repositories: { [WIDGETS]: [sha(1), sha(2)] } });
    const created = await requestData(gateway.url, CREATE_REPORTER, {
      name: 'github',
      baseUrl: forge.url,
      authorization: AUTH,
      rules: [{ jobs: 'nixpkgs:trunk:.*', inputs: ['src'] }],
    });
    expect(created.createStatusReporter).toMatchObject({
      kind: 'COMMIT_STATUS',
      reporter: { provider: 'GITHUB', rules: [{ jobs: 'nixpkgs:trunk:.*' }] },
    });

    // An evaluation at commit 1 queues a build; GitHub rate-limits the first status.
    const e1 = await evalWithInput(db.pool, jobsetId, WIDGETS, sha(1));
    const failing = await insertBuild(db.pool, jobsetId, { job: 'tests.unit' });
    await addMembers(db.pool, e1, [failing]);
    forge.rateLimitNext(1, 1);
    await notify(db.pool, [['build_queued', String(failing)]]);
    const [pending] = await forge.waitStatuses(WIDGETS, sha(1), 1);
    expect(pending).toMatchObject({
      state: 'pending',
      context: `continuous-integration/hydra:nixpkgs:trunk:tests.unit:${failing}`,
      description: `Hydra build #${failing} of nixpkgs:trunk:tests.unit`,
      target_url: `https://hydra.example.org/build/${failing}`,
    });
    const [limited, accepted] = forge.requests.filter((r) => r.method === 'POST');
    expect(limited!.status).toBe(403);
    expect(accepted!.status).toBe(201);
    expect(accepted!.at - limited!.at).toBeGreaterThanOrEqual(950);
    expect(accepted!.headers.accept).toBe('application/vnd.github.v3+json');

    // It fails (buildstatus 1): failure, after the pending one.
    await finishBuilds(db.pool, [failing], { status: 1 });
    await notify(db.pool, [['build_finished', String(failing)]]);
    const statuses = await forge.waitStatuses(WIDGETS, sha(1), 2);
    expect(statuses.map((s) => s.state)).toEqual(['pending', 'failure']);

    // A job built before (success) that a new evaluation at commit 2 reuses: success there, nothing on commit 1.
    const built = await insertBuild(db.pool, jobsetId, { job: 'hello' });
    await finishBuilds(db.pool, [built], { status: 0 });
    await addMembers(db.pool, e1, [built]);
    const e2 = await evalWithInput(db.pool, jobsetId, WIDGETS, sha(2));
    await addMembers(db.pool, e2, [built]);
    await notify(db.pool, [['cached_build_finished', `${e2}\t${built}`]]);
    const [cached] = await forge.waitStatuses(WIDGETS, sha(2), 1);
    expect(cached).toMatchObject({ state: 'success', context: `continuous-integration/hydra:nixpkgs:trunk:hello:${built}` });
    expect(forge.statuses(WIDGETS, sha(1))).toHaveLength(2);

    // An aborted build (buildstatus 3) is an error; a queued build already finished reports nothing more.
    const aborted = await insertBuild(db.pool, jobsetId, { job: 'tests.aborted' });
    await addMembers(db.pool, e2, [aborted]);
    await finishBuilds(db.pool, [aborted], { status: 3 });
    await notify(db.pool, [['build_queued', String(aborted)]]);
    await notify(db.pool, [['build_finished', String(aborted)]]);
    const onTwo = await forge.waitStatuses(WIDGETS, sha(2), 2);
    expect(onTwo.map((s) => [s.context.endsWith(`:${aborted}`), s.state])).toEqual([
      [false, 'success'],
      [true, 'error'],
    ]);
  });

  test('a flake evaluation reports on the locked commit; a dependent of a failed build fails too; cached_build_queued is pending', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const forge = await startForge({ authorization: AUTH, repositories: { [FLAKES]: [sha(3)] } });
    await requestData(gateway.url, CREATE_REPORTER, {
      name: 'flakes',
      baseUrl: forge.url,
      authorization: AUTH,
      rules: [{ jobs: 'nixpkgs:trunk:flake\\..*', useShortContext: true }],
    });
    const evaluation = await insertEval(db.pool, jobsetId);
    await db.pool.query('UPDATE jobsetevals SET flake = $2 WHERE id = $1', [evaluation, `github:${FLAKES}/${sha(3)}?narHash=sha256-abc`]);
    const [root, dependent, other] = [
      await insertBuild(db.pool, jobsetId, { job: 'flake.lib-pr-12' }),
      await insertBuild(db.pool, jobsetId, { job: 'flake.app' }),
      await insertBuild(db.pool, jobsetId, { job: 'unrelated' }),
    ];
    await addMembers(db.pool, evaluation, [root, dependent, other]);
    await notify(db.pool, [['cached_build_queued', `${evaluation}\t${dependent}`]]);
    await forge.waitStatuses(FLAKES, sha(3), 1);
    // The root fails and Hydra fails its dependent with it (listed in the same build_finished).
    await finishBuilds(db.pool, [root], { status: 1 });
    await finishBuilds(db.pool, [dependent], { status: 2 });
    await notify(db.pool, [['build_finished', `${root}\t${dependent}`]]);
    const statuses = await forge.waitStatuses(FLAKES, sha(3), 3);
    const byContext = Object.fromEntries(
      [...new Set(statuses.map((s) => s.context))].map((c) => [c, statuses.filter((s) => s.context === c).map((s) => s.state)]),
    );
    expect(byContext).toEqual({
      [`ci/hydra:nixpkgs:trunk:flake.app:${dependent}`]: ['pending', 'failure'],
      // The short context drops -pr-N from the job.
      [`ci/hydra:nixpkgs:trunk:flake.lib:${root}`]: ['failure'],
    });
  });

  test('an answer retrying cannot change (422: no such commit) leaves the status dead and in view; a wrong token is retried, not lost', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const forge = await startForge({ authorization: AUTH, repositories: { [WIDGETS]: [sha(1)] } });
    await requestData(gateway.url, CREATE_REPORTER, {
      name: 'strict',
      baseUrl: forge.url,
      authorization: AUTH,
      rules: [{ jobs: 'nixpkgs:trunk:strict' }],
    });
    const evaluation = await evalWithInput(db.pool, jobsetId, WIDGETS, sha(9));
    // The rule names no input: this is a legacy evaluation, so nothing is sent.
    const nothing = await insertBuild(db.pool, jobsetId, { job: 'strict' });
    await addMembers(db.pool, evaluation, [nothing]);
    await notify(db.pool, [['build_queued', String(nothing)]]);

    await requestData(gateway.url, CREATE_REPORTER, {
      name: 'unknown-commit',
      baseUrl: forge.url,
      authorization: AUTH,
      rules: [{ jobs: 'nixpkgs:trunk:strict2', inputs: ['src'] }],
    });
    const build = await insertBuild(db.pool, jobsetId, { job: 'strict2' });
    await addMembers(db.pool, evaluation, [build]);
    await notify(db.pool, [['build_queued', String(build)]]);
    let deliveries: { state: string; lastStatus: number | null; attempts: number }[] = [];
    await until(
      () => deliveries.length === 1 && deliveries[0]!.state === 'DEAD',
      15_000,
      'dead',
      async () => {
        deliveries = (await requestData(gateway.url, DELIVERIES, { name: 'unknown-commit' })).webhook.deliveries.edges.map((e) => e.node);
      },
    );
    expect(deliveries[0]).toMatchObject({ lastStatus: 422, attempts: 1 });
    expect((await requestData(gateway.url, DELIVERIES, { name: 'strict' })).webhook.deliveries.edges).toHaveLength(0);

    // A token the forge refuses: 401, retried on the schedule (someone may fix it), never dropped.
    await requestData(gateway.url, CREATE_REPORTER, {
      name: 'bad-token',
      baseUrl: forge.url,
      authorization: 'token revoked',
      rules: [{ jobs: 'nixpkgs:trunk:strict3', inputs: ['src'] }],
    });
    const third = await insertBuild(db.pool, jobsetId, { job: 'strict3' });
    await addMembers(db.pool, evaluation, [third]);
    await notify(db.pool, [['build_queued', String(third)]]);
    await until(
      () => deliveries[0]?.attempts === 2,
      15_000,
      'retried',
      async () => {
        deliveries = (await requestData(gateway.url, DELIVERIES, { name: 'bad-token' })).webhook.deliveries.edges.map((e) => e.node);
      },
    );
    expect(deliveries[0]).toMatchObject({ state: 'PENDING', lastStatus: 401 });

    // Bad options are refused, saying why.
    const bad = await request(gateway.url, CREATE_REPORTER, {
      name: 'bad',
      baseUrl: forge.url,
      authorization: AUTH,
      rules: [{ jobs: '(' }],
    });
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(bad.errors?.[0]?.message).toMatch(/jobs is not a regular expression/);
  });

  test("Gitea: the same statuses on its /api/v1 with Gitea's token header", async ({ db, gateway, jobsetId }) => {
    const forge = await startForge({ authorization: 'token gitea-secret', repositories: { [WIDGETS]: [sha(7)] }, prefix: '/api/v1' });
    await requestData(gateway.url, CREATE_REPORTER, {
      name: 'gitea',
      provider: 'GITEA',
      baseUrl: forge.url,
      authorization: 'token gitea-secret',
      rules: [{ jobs: 'nixpkgs:trunk:gitea', inputs: ['src'] }],
    });
    const evaluation = await evalWithInput(db.pool, jobsetId, WIDGETS, sha(7));
    const build = await insertBuild(db.pool, jobsetId, { job: 'gitea' });
    await addMembers(db.pool, evaluation, [build]);
    await notify(db.pool, [['build_queued', String(build)]]);
    await forge.waitStatuses(WIDGETS, sha(7), 1);
    await finishBuilds(db.pool, [build], { status: 0 });
    await notify(db.pool, [['build_finished', String(build)]]);
    const statuses = await forge.waitStatuses(WIDGETS, sha(7), 2);
    expect(statuses.map((s) => s.state)).toEqual(['pending', 'success']);
    expect(forge.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(
      Array(2).fill(`/api/v1/repos/acme/widgets/statuses/${sha(7)}`),
    );
  });
});
