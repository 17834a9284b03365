/**
 * Batch loads of Hydra rows by key, one statement per table, for DataLoader.
 *
 * Contract: each function takes a list of keys and returns one parsed record
 * (or null when the row does not exist) per key, in key order, as DataLoader
 * requires. Columns are listed explicitly (only those this gateway's schema exposes), so
 * a Hydra that adds columns changes nothing here. Read-only.
 */
import type { Queryable } from '../../db/queryable.js';
import {
  type Build,
  type BuildOutput,
  type BuildStep,
  type Evaluation,
  type Jobset,
  type Project,
  toBuild,
  toBuildOutput,
  toBuildStep,
  toEvaluation,
  toJobset,
  toProject,
} from '../rows.js';

/** Columns of `builds` the gateway reads (aliased `b`). */
export const BUILD_COLUMNS = `b.id, b.finished, b.timestamp, b.jobset_id, b.job, b.nixname, b.description, b.drvpath,
  b.system, b.priority, b.globalpriority, b.starttime, b.stoptime, b.iscachedbuild, b.buildstatus, b.size,
  b.closuresize, b.releasename, b.keep, b.notificationpendingsince`;

const STEP_COLUMNS = `s.build, s.stepnr, s.type, s.drvpath, s.busy, s.status, s.errormsg, s.starttime, s.stoptime,
  s.machine, s.system, s.propagatedfrom, s.overhead, s.timesbuilt, s.isnondeterministic, s.resolveddrvpath`;

function byKey<K, T>(keys: readonly K[], rows: T[], key: (row: T) => K): (T | null)[] {
  const index = new Map(rows.map((r) => [key(r), r]));
  return keys.map((k) => index.get(k) ?? null);
}

/** `builds` rows by id. */
export async function buildsById(db: Queryable, ids: readonly number[]): Promise<(Build | null)[]> {
  const { rows } = await db.query(`/* buildsById */ SELECT ${BUILD_COLUMNS} FROM builds b WHERE b.id = ANY($1::int[])`, [ids]);
  return byKey(ids, rows.map(toBuild), (b) => b.id);
}

/** `jobsets` rows by id. */
export async function jobsetsById(db: Queryable, ids: readonly number[]): Promise<(Jobset | null)[]> {
  const { rows } = await db.query(
    `/* jobsetsById */ SELECT id, project, name, enabled, errormsg, errortime, lastcheckedtime, triggertime,
       checkinterval, schedulingshares, type, flake, nixexprinput, nixexprpath, emailoverride
     FROM jobsets WHERE id = ANY($1::int[])`,
    [ids],
  );
  return byKey(ids, rows.map(toJobset), (j) => j.id);
}

/** `jobsets` rows by (project, name), keys formatted as `project:name`. */
export async function jobsetsByName(db: Queryable, keys: readonly { project: string; name: string }[]): Promise<(Jobset | null)[]> {
  const { rows } = await db.query(
    `/* jobsetsByName */ SELECT j.id, j.project, j.name, j.enabled, j.errormsg, j.errortime, j.lastcheckedtime,
       j.triggertime, j.checkinterval, j.schedulingshares, j.type, j.flake, j.nixexprinput, j.nixexprpath, j.emailoverride
     FROM jobsets j JOIN unnest($1::text[], $2::text[]) AS k(project, name) ON j.project = k.project AND j.name = k.name`,
    [keys.map((k) => k.project), keys.map((k) => k.name)],
  );
  const parsed = rows.map(toJobset);
  return keys.map((k) => parsed.find((j) => j.project === k.project && j.name === k.name) ?? null);
}

/** `projects` rows by name. */
export async function projectsByName(db: Queryable, names: readonly string[]): Promise<(Project | null)[]> {
  const { rows } = await db.query(
    `/* projectsByName */ SELECT name, displayname, description, enabled, hidden, owner, homepage
     FROM projects WHERE name = ANY($1::text[])`,
    [names],
  );
  return byKey(names, rows.map(toProject), (p) => p.name);
}

/** `jobsetevals` rows by id. */
export async function evaluationsById(db: Queryable, ids: readonly number[]): Promise<(Evaluation | null)[]> {
  const { rows } = await db.query(
    `/* evaluationsById */ SELECT id, jobset_id, evaluationerror_id, timestamp, checkouttime, evaltime, hasnewbuilds,
       hash, nrbuilds, nrsucceeded, flake
     FROM jobsetevals WHERE id = ANY($1::int[])`,
    [ids],
  );
  return byKey(ids, rows.map(toEvaluation), (e) => e.id);
}

/** One `buildsteps` row per (build, stepnr) key. */
export async function stepsByKey(db: Queryable, keys: readonly { buildId: number; stepNr: number }[]): Promise<(BuildStep | null)[]> {
  const { rows } = await db.query(
    `/* stepsByKey */ SELECT ${STEP_COLUMNS}
     FROM buildsteps s JOIN unnest($1::int[], $2::int[]) AS k(build, stepnr) ON s.build = k.build AND s.stepnr = k.stepnr`,
    [keys.map((k) => k.buildId), keys.map((k) => k.stepNr)],
  );
  const index = new Map(rows.map(toBuildStep).map((s) => [`${s.buildId}/${s.stepNr}`, s]));
  return keys.map((k) => index.get(`${k.buildId}/${k.stepNr}`) ?? null);
}

/** All `buildsteps` of each build, by step number. */
export async function stepsOfBuilds(db: Queryable, ids: readonly number[]): Promise<BuildStep[][]> {
  const { rows } = await db.query(
    `/* stepsOfBuilds */ SELECT ${STEP_COLUMNS} FROM buildsteps s WHERE s.build = ANY($1::int[]) ORDER BY s.build, s.stepnr`,
    [ids],
  );
  return group(ids, rows.map(toBuildStep), (s) => s.buildId);
}

/** All `buildoutputs` of each build, by name. */
export async function outputsOfBuilds(db: Queryable, ids: readonly number[]): Promise<BuildOutput[][]> {
  const { rows } = await db.query(
    `/* outputsOfBuilds */ SELECT build, name, path FROM buildoutputs WHERE build = ANY($1::int[]) ORDER BY build, name`,
    [ids],
  );
  return group(ids, rows.map(toBuildOutput), (o) => o.buildId);
}

function group<T>(ids: readonly number[], items: T[], key: (item: T) => number): T[][] {
  const groups = new Map<number, T[]>(ids.map((id) => [id, []]));
  for (const item of items) groups.get(key(item))?.push(item);
  return ids.map((id) => groups.get(id) ?? []);
}
