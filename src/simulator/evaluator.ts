/**
 * The simulated evaluator (hydra-eval-jobset): one evaluation attempt per tick.
 *
 * Contract: a tick picks an enabled jobset and sends `eval_started` at once, in
 * autocommit, as Hydra does; then the attempt fails (`eval_failed`), finds its inputs
 * unchanged (`eval_cached`, only when the jobset has a previous evaluation), or succeeds.
 * A success is ONE transaction: the new builds and their outputs, `build_queued` per new
 * build, the jobsetevals row, its input (`src`, a git revision: for a legacy jobset), the
 * members (only when there are new builds),
 * `cached_build_queued`/`cached_build_finished` per reused build, `eval_added`, and
 * `builds_added` with the lowest new build id, all delivered together at its commit.
 * The tick throws on a database error; the caller logs it.
 */
import type pg from 'pg';
import { between, chance, pick, sample, type Random } from './dice.js';
import { inTransaction, notifyStatement, pgNotify, unixNow } from './notify.js';
import { PACKAGES, SYSTEMS, type Package } from './seed.js';
import { drvPath, outPath } from './store.js';

/** What an evaluator tick needs. */
export interface EvaluatorContext {
  pool: pg.Pool;
  random: Random;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** How an evaluation attempt ended. */
export type EvalOutcome =
  | { kind: 'idle' }
  | { kind: 'failed'; jobsetId: number }
  | { kind: 'cached'; jobsetId: number; evalId: number }
  | { kind: 'added'; jobsetId: number; evalId: number; newBuildIds: number[]; reusedBuildIds: number[] };

interface JobsetRow {
  id: number;
  project: string;
  name: string;
  flake: string | null;
}

/** Probability that an attempt fails. */
const FAILURE_RATE = 0.1;
/** Probability that an attempt finds its inputs unchanged (when it can). */
const CACHED_RATE = 0.2;
/** Probability that a job keeps the derivation of its latest build. */
const REUSE_RATE = 0.35;

const EVAL_ERRORS = [
  "error: attribute 'hello' missing\n       at /nix/store/release.nix:12:5",
  "error: unable to download 'https://github.com/NixOS/nixpkgs/archive/master.tar.gz': HTTP error 503",
  "error: evaluation aborted with the following error message: 'lib.mkIf: expected a boolean'",
];

/**
 * The trace id correlating the eval_* events of one attempt: monotonic seconds, a dot,
 * nanoseconds, a dot, the pid, e.g. `183745.123456789.4242`.
 */
export function evalTrace(): string {
  const [seconds, nanoseconds] = process.hrtime();
  return `${seconds}.${String(nanoseconds).padStart(9, '0')}.${process.pid}`;
}

/** Runs one evaluation attempt of a random enabled jobset. */
export async function evaluatorTick(ctx: EvaluatorContext): Promise<EvalOutcome> {
  const { rows: jobsets } = await ctx.pool.query<JobsetRow>(
    `/* simulatorEnabledJobsets */
     select j.id, j.project, j.name, j.flake
       from jobsets j join projects p on p.name = j.project
      where j.enabled != 0 and p.enabled != 0
      order by j.lastcheckedtime asc nulls first, j.id`,
  );
  if (jobsets.length === 0) return { kind: 'idle' };
  // Like Hydra, prefer the jobsets checked least recently; a little randomness varies the stream.
  const jobset = pick(ctx.random, jobsets.slice(0, 2));
  const trace = evalTrace();
  await pgNotify(ctx.pool, 'eval_started', `${trace}\t${jobset.id}`);

  const { rows: previous } = await ctx.pool.query<{ id: number }>(
    '/* simulatorPreviousEval */ select id from jobsetevals where jobset_id = $1 order by id desc limit 1',
    [jobset.id],
  );
  const previousEvalId = previous[0]?.id;
  const roll = ctx.random();
  if (roll < FAILURE_RATE) return fail(ctx, jobset, trace);
  if (previousEvalId !== undefined && roll < FAILURE_RATE + CACHED_RATE) {
    return cached(ctx, jobset, trace, previousEvalId);
  }
  return evaluate(ctx, jobset, trace);
}

async function fail(ctx: EvaluatorContext, jobset: JobsetRow, trace: string): Promise<EvalOutcome> {
  const message = pick(ctx.random, EVAL_ERRORS);
  await inTransaction(ctx.pool, async (client) => {
    await client.query(
      `/* simulatorEvalFailed */
       update jobsets set errormsg = $2, errortime = $3, lastcheckedtime = $3, triggertime = null where id = $1`,
      [jobset.id, message, unixNow()],
    );
    await pgNotify(client, 'eval_failed', `${trace}\t${jobset.id}`);
  });
  ctx.log('simulated evaluation failed', { jobset: `${jobset.project}:${jobset.name}`, jobsetId: jobset.id });
  return { kind: 'failed', jobsetId: jobset.id };
}

async function cached(ctx: EvaluatorContext, jobset: JobsetRow, trace: string, evalId: number): Promise<EvalOutcome> {
  await inTransaction(ctx.pool, async (client) => {
    await client.query('/* simulatorEvalCached */ update jobsets set lastcheckedtime = $2, triggertime = null where id = $1', [
      jobset.id,
      unixNow(),
    ]);
    await pgNotify(client, 'eval_cached', `${trace}\t${jobset.id}\t${evalId}`);
  });
  ctx.log('simulated evaluation cached', { jobset: `${jobset.project}:${jobset.name}`, jobsetId: jobset.id, evalId });
  return { kind: 'cached', jobsetId: jobset.id, evalId };
}

interface PlannedJob {
  job: string;
  system: string;
  pkg: Package;
}

async function evaluate(ctx: EvaluatorContext, jobset: JobsetRow, trace: string): Promise<EvalOutcome> {
  const packages = PACKAGES[jobset.project] ?? PACKAGES.nixpkgs ?? [];
  const plan: PlannedJob[] = sample(ctx.random, packages, between(ctx.random, 1, 6)).map((pkg) => {
    const system = pick(ctx.random, SYSTEMS);
    return { job: `${pkg.attr}.${system}`, system, pkg };
  });

  const outcome = await inTransaction(ctx.pool, async (client) => {
    const now = unixNow();
    const newBuildIds: number[] = [];
    const reused: { id: number; finished: boolean }[] = [];
    for (const job of plan) {
      const { rows } = await client.query<{ id: number; finished: number }>(
        `/* simulatorLatestBuildOfJob */
         select id, finished from builds where jobset_id = $1 and job = $2 order by id desc limit 1`,
        [jobset.id, job.job],
      );
      const latest = rows[0];
      if (latest && chance(ctx.random, REUSE_RATE)) {
        reused.push({ id: latest.id, finished: latest.finished === 1 });
        continue;
      }
      const id = await insertBuild(client, ctx.random, jobset.id, job, now);
      newBuildIds.push(id);
      // Hydra sends build_queued both ways; the gateway must not care which.
      if (chance(ctx.random, 0.5)) await notifyStatement(client, 'build_queued', String(id));
      else await pgNotify(client, 'build_queued', String(id));
    }

    const hasNewBuilds = newBuildIds.length > 0;
    const { rows } = await client.query<{ id: number }>(
      `/* simulatorInsertEval */
       insert into jobsetevals (jobset_id, timestamp, checkouttime, evaltime, hasnewbuilds, hash, nrbuilds, flake)
       values ($1, $2, $3, $4, $5, $6, $7, $8)
       returning id`,
      [
        jobset.id,
        now,
        between(ctx.random, 0, 5),
        between(ctx.random, 1, 40),
        hasNewBuilds ? 1 : 0,
        hexString(ctx.random, 64),
        hasNewBuilds ? newBuildIds.length + reused.length : null,
        jobset.flake === null ? null : `${jobset.flake}/${hexString(ctx.random, 40)}`,
      ],
    );
    const evalId = rows[0]!.id;
    // A legacy jobset's evaluation records the revision of its input, where commit statuses go.
    if (jobset.flake === null) {
      await client.query(
        `/* simulatorInsertEvalInput */
         insert into jobsetevalinputs (eval, name, altnr, type, uri, revision) values ($1, 'src', 0, 'git', $2, $3)`,
        [evalId, `https://github.com/example/${jobset.name}.git`, hexString(ctx.random, 40)],
      );
    }

    if (hasNewBuilds) {
      const members = [...newBuildIds.map((id) => [id, 1]), ...reused.map((build) => [build.id, 0])];
      await client.query(
        `/* simulatorInsertEvalMembers */
         insert into jobsetevalmembers (eval, build, isnew)
         select $1, t.build, t.isnew from unnest($2::int[], $3::int[]) as t(build, isnew)`,
        [evalId, members.map((m) => m[0]), members.map((m) => m[1])],
      );
    }
    for (const build of reused) {
      const channel = build.finished ? 'cached_build_finished' : 'cached_build_queued';
      await pgNotify(client, channel, `${evalId}\t${build.id}`);
    }
    await pgNotify(client, 'eval_added', `${trace}\t${jobset.id}\t${evalId}`);
    if (hasNewBuilds) await pgNotify(client, 'builds_added', String(Math.min(...newBuildIds)));
    await client.query(
      `/* simulatorEvalSucceeded */
       update jobsets set lastcheckedtime = $2, errormsg = null, errortime = null, fetcherrormsg = null, triggertime = null
        where id = $1`,
      [jobset.id, now],
    );
    return { kind: 'added', jobsetId: jobset.id, evalId, newBuildIds, reusedBuildIds: reused.map((b) => b.id) } as const;
  });
  ctx.log('simulated evaluation added', {
    jobset: `${jobset.project}:${jobset.name}`,
    jobsetId: jobset.id,
    evalId: outcome.evalId,
    newBuilds: outcome.newBuildIds.length,
    reusedBuilds: outcome.reusedBuildIds.length,
  });
  return outcome;
}

async function insertBuild(client: pg.ClientBase, random: Random, jobsetId: number, job: PlannedJob, now: number): Promise<number> {
  const nixname = job.pkg.version ? `${job.pkg.pname}-${job.pkg.version}` : job.pkg.pname;
  const { rows } = await client.query<{ id: number }>(
    `/* simulatorInsertBuild */
     insert into builds (finished, timestamp, jobset_id, job, nixname, description, drvpath, system, license, maintainers,
                         priority, globalpriority)
     values (0, $1, $2, $3, $4, $5, $6, $7, 'mit', 'simulator', 100, 0)
     returning id`,
    [now, jobsetId, job.job, nixname, job.pkg.description, drvPath(nixname, random), job.system],
  );
  const id = rows[0]!.id;
  const outputs = chance(random, 0.3) ? ['out', 'dev'] : ['out'];
  await client.query(
    `/* simulatorInsertBuildOutputs */
     insert into buildoutputs (build, name, path)
     select $1, t.name, t.path from unnest($2::text[], $3::text[]) as t(name, path)`,
    [id, outputs, outputs.map((name) => outPath(name === 'out' ? nixname : `${nixname}-${name}`, random))],
  );
  return id;
}

function hexString(random: Random, length: number): string {
  let hex = '';
  for (let i = 0; i < length; i++) hex += Math.floor(random() * 16).toString(16);
  return hex;
}
