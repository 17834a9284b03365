/**
 * The simulated queue runner (hydra-queue-runner): steps start, steps finish, builds finish.
 *
 * Contract: a tick first finishes each step that was busy when it began with probability
 * `STEP_FINISH_RATE` (so a step lasts about ten ticks, never less than one), then
 * dispatches queued builds to free slots. Builds outlast evaluations, as in Hydra: an
 * evaluation then often finds a job's previous build still queued (`cached_build_queued`),
 * which instant builds made all but impossible.
 * - Dispatch: one transaction inserts the busy step (busy 30) and sends `step_started`
 *   and `build_started`.
 * - A failed attempt that will be retried: one transaction closes the step (status 3) and
 *   sends `step_finished`; the build stays queued and gets a new step_nr later, with
 *   another `build_started`.
 * - Success or failure: one transaction closes the step (`step_finished`) and sets
 *   `finished = 1`, `buildstatus`, `starttime`, `stoptime` and `notificationpendingsince`
 *   (= stoptime); on failure the same transaction marks some other queued builds
 *   "dependency failed" (status 2, pending too). `build_finished` follows in a LATER,
 *   separate transaction, as Hydra's runner sends it: a crash in between leaves pending
 *   builds without a notification. On failure the payload lists the failed build among
 *   its own dependents (`id\tid\tdep...`), split as `buildFinishedPayloads` says.
 * The tick throws on a database error; the caller logs it.
 */
import type pg from 'pg';
import { between, chance, pick, type Random } from './dice.js';
import { inTransaction, notifyStatement, pgNotify, unixNow } from './notify.js';
import { buildFinishedPayloads } from './payloads.js';
import { logPath } from './store.js';

/** What a queue-runner tick needs. */
export interface RunnerContext {
  pool: pg.Pool;
  random: Random;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * How many steps may be busy at once, over all machines: enough for the runner to keep
 * up with the evaluator although each step lasts several ticks.
 * @default 12
 */
export const SLOTS = 12;
/** Probability that a busy step finishes in a given tick: about ten ticks per step. */
const STEP_FINISH_RATE = 0.1;
/** Probability that a step attempt fails in a way the runner retries. */
const RETRY_RATE = 0.08;
/** Probability that a build fails. */
const FAILURE_RATE = 0.15;

const MACHINES: Record<string, readonly string[]> = {
  'x86_64-linux': ['builder1', 'builder2'],
  'aarch64-linux': ['arm-builder1'],
};

interface BusyStep {
  build: number;
  stepnr: number;
  drvpath: string;
  machine: string;
  system: string | null;
}

/** Runs one queue-runner round: finishes the busy steps, then dispatches queued builds. */
export async function runnerTick(ctx: RunnerContext): Promise<void> {
  const { rows: busy } = await ctx.pool.query<BusyStep>(
    `/* simulatorBusySteps */
     select build, stepnr, drvpath, machine, system from buildsteps
      where busy != 0 and status is null
      order by starttime, build, stepnr`,
  );
  for (const step of busy) {
    if (chance(ctx.random, STEP_FINISH_RATE)) await finishStep(ctx, step);
  }
  await dispatch(ctx, SLOTS);
}

async function dispatch(ctx: RunnerContext, slots: number): Promise<void> {
  const { rows: counted } = await ctx.pool.query<{ n: number }>(
    '/* simulatorCountBusySteps */ select count(*)::int as n from buildsteps where busy != 0',
  );
  const free = slots - (counted[0]?.n ?? 0);
  if (free <= 0) return;
  const { rows: queued } = await ctx.pool.query<{ id: number; drvpath: string; system: string }>(
    `/* simulatorQueuedBuilds */
     select b.id, b.drvpath, b.system from builds b
      where b.finished = 0
        and not exists (select 1 from buildsteps s where s.build = b.id and s.busy != 0)
      order by b.globalpriority desc, b.priority desc, b.id
      limit $1`,
    [free],
  );
  for (const build of queued) {
    const machine = pick(ctx.random, MACHINES[build.system] ?? ['builder1']);
    await inTransaction(ctx.pool, async (client) => {
      const { rows } = await client.query<{ stepnr: number }>(
        `/* simulatorStartStep */
         insert into buildsteps (build, stepnr, type, drvpath, busy, starttime, machine, system)
         select $1, coalesce(max(stepnr), 0) + 1, 0, $2, 30, $3, $4, $5 from buildsteps where build = $1
         returning stepnr`,
        [build.id, build.drvpath, unixNow(), machine, build.system],
      );
      const stepnr = rows[0]!.stepnr;
      await notifyStatement(client, 'step_started', `${build.id}\t${stepnr}`);
      await pgNotify(client, 'build_started', String(build.id));
    });
  }
}

async function finishStep(ctx: RunnerContext, step: BusyStep): Promise<void> {
  const log = logPath(step.drvpath);
  const roll = ctx.random();
  if (roll < RETRY_RATE) {
    await inTransaction(ctx.pool, async (client) => {
      await closeStep(client, step, 3, `unable to connect to ${step.machine}: Connection reset by peer`);
      await pgNotify(client, 'step_finished', `${step.build}\t${step.stepnr}\t${log}`);
    });
    ctx.log('simulated step attempt failed, will retry', { buildId: step.build, stepNr: step.stepnr });
    return;
  }

  const failed = roll < RETRY_RATE + FAILURE_RATE;
  const now = unixNow();
  const finished = await inTransaction(ctx.pool, async (client) => {
    await closeStep(client, step, failed ? 1 : 0, failed ? `builder for '${step.drvpath}' failed with exit code 2` : null);
    await pgNotify(client, 'step_finished', `${step.build}\t${step.stepnr}\t${log}`);
    const { rowCount } = await client.query(
      `/* simulatorFinishBuild */
       update builds
          set finished = 1, buildstatus = $2,
              starttime = coalesce((select min(starttime) from buildsteps where build = $1 and starttime != 0), $3),
              stoptime = $3, iscachedbuild = 0, size = $4, closuresize = $5, notificationpendingsince = $3
        where id = $1 and finished = 0`,
      [step.build, failed ? 1 : 0, now, failed ? null : between(ctx.random, 1e4, 5e7), failed ? null : between(ctx.random, 5e7, 2e9)],
    );
    if (rowCount === 0) return null; // finished meanwhile (cancelled, or another runner)
    const dependents = failed ? await failDependents(client, ctx.random, step, now) : [];
    return { dependents };
  });
  if (!finished) return;

  // The real runner notifies in a later transaction than the one that finished the build.
  const payloads = buildFinishedPayloads(step.build, finished.dependents, failed);
  await inTransaction(ctx.pool, async (client) => {
    for (const payload of payloads) await notifyStatement(client, 'build_finished', payload);
  });
  ctx.log('simulated build finished', {
    buildId: step.build,
    buildStatus: failed ? 1 : 0,
    dependentIds: finished.dependents,
  });
}

async function closeStep(client: pg.ClientBase, step: BusyStep, status: number, errormsg: string | null): Promise<void> {
  await client.query(
    `/* simulatorFinishStep */
     update buildsteps
        set busy = 0, status = $3, errormsg = $4, stoptime = $5, timesbuilt = 1, isnondeterministic = false, overhead = 0
      where build = $1 and stepnr = $2`,
    [step.build, step.stepnr, status, errormsg, unixNow()],
  );
}

/**
 * Marks up to three other idle queued builds "dependency failed", as if they depended on
 * the failed step, each with a propagated step row. Same transaction as the failure.
 */
async function failDependents(client: pg.ClientBase, random: Random, step: BusyStep, now: number): Promise<number[]> {
  const { rows } = await client.query<{ id: number }>(
    `/* simulatorPickDependents */
     select b.id from builds b
      where b.finished = 0 and b.id != $1
        and not exists (select 1 from buildsteps s where s.build = b.id and s.busy != 0)
      order by b.id
      limit $2
      for update skip locked`,
    [step.build, between(random, 0, 3)],
  );
  const ids = rows.map((row) => row.id);
  if (ids.length === 0) return ids;
  await client.query(
    `/* simulatorPropagateFailedStep */
     insert into buildsteps (build, stepnr, type, drvpath, busy, status, errormsg, starttime, stoptime, machine, system, propagatedfrom)
     select b.id, coalesce((select max(stepnr) from buildsteps s where s.build = b.id), 0) + 1, 0, $2, 0, 1, null, $3, $3, $4, $5, $6
       from unnest($1::int[]) as b(id)`,
    [ids, step.drvpath, now, step.machine, step.system, step.build],
  );
  await client.query(
    `/* simulatorFailDependents */
     update builds
        set finished = 1, buildstatus = 2, starttime = $2, stoptime = $2, iscachedbuild = 0, notificationpendingsince = $2
      where id = any($1::int[]) and finished = 0`,
    [ids, now],
  );
  return ids;
}
