/**
 * Batch loads of Hydra rows by key, one statement per table, for DataLoader.
 *
 * Contract: each function takes a list of keys and returns one parsed record
 * (or null when the row does not exist) per key, in key order, as DataLoader
 * requires. Columns are listed explicitly (only those this gateway's schema exposes), so
 * a Hydra that adds columns changes nothing here. Read-only.
 */
import type { Prepared, Queryable } from '../../db/queryable.js';
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

/** Columns of `jobsets` the gateway reads (aliased `j`). */
const JOBSET_COLUMNS = `j.id, j.project, j.name, j.enabled, j.errormsg, j.errortime, j.lastcheckedtime, j.triggertime,
  j.checkinterval, j.schedulingshares, j.type, j.flake, j.nixexprinput, j.nixexprpath, j.emailoverride`;

/** Columns of `projects` the gateway reads (aliased `p`). */
const PROJECT_COLUMNS = `p.name, p.displayname, p.description, p.enabled, p.hidden, p.owner, p.homepage`;

/** `columns` (each `alias.name`) renamed `prefix_name`, for a join whose tables share column names. */
function prefixed(columns: string, prefix: string): string {
  return columns
    .split(',')
    .map((c) => c.trim())
    .map((c) => `${c} AS ${prefix}_${c.slice(c.indexOf('.') + 1)}`)
    .join(', ');
}

/** The columns of `row` that start with `prefix_`, without it (null when the joined row is absent). */
function unprefixed(row: Record<string, unknown>, prefix: string, key: string): Record<string, unknown> | null {
  if (row[`${prefix}_${key}`] === null || row[`${prefix}_${key}`] === undefined) return null;
  const out: Record<string, unknown> = {};
  const start = prefix.length + 1;
  for (const name in row) if (name.startsWith(prefix) && name[prefix.length] === '_') out[name.slice(start)] = row[name];
  return out;
}

const STEP_COLUMNS = `s.build, s.stepnr, s.type, s.drvpath, s.busy, s.status, s.errormsg, s.starttime, s.stoptime,
  s.machine, s.system, s.propagatedfrom, s.overhead, s.timesbuilt, s.isnondeterministic, s.resolveddrvpath`;

function byKey<K, T>(keys: readonly K[], rows: T[], key: (row: T) => K): (T | null)[] {
  const index = new Map(rows.map((r) => [key(r), r]));
  return keys.map((k) => index.get(k) ?? null);
}

/** A build with the jobset and project it belongs to, as one statement reads them. */
export interface BuildWithJobset {
  build: Build;
  jobset: Jobset | null;
  project: Project | null;
}

const WITH_JOBSETS = `SELECT ${BUILD_COLUMNS}, ${prefixed(JOBSET_COLUMNS, 'j')}, ${prefixed(PROJECT_COLUMNS, 'p')}
  FROM builds b LEFT JOIN jobsets j ON j.id = b.jobset_id LEFT JOIN projects p ON p.name = j.project`;
const BUILDS_WITH_JOBSETS = `/* buildsWithJobsets */ ${WITH_JOBSETS} WHERE b.id = ANY($1::int[])`;
const BUILD_WITH_JOBSET: Prepared = { name: 'buildWithJobset', text: `/* buildWithJobset */ ${WITH_JOBSETS} WHERE b.id = $1` };

/**
 * `builds` rows by id, each with its jobset and that jobset's project (one statement, one
 * snapshot): what an event about a build shows is its build, jobset and project.
 */
export async function buildsWithJobsets(db: Queryable, ids: readonly number[]): Promise<(BuildWithJobset | null)[]> {
  // One build (a live event's) is the prepared statement: a generic plan of `= ANY($1)` costs
  // several times a custom one, a generic plan of `= $1` does not.
  const { rows } = ids.length === 1 ? await db.query(BUILD_WITH_JOBSET, [ids[0]]) : await db.query(BUILDS_WITH_JOBSETS, [ids]);
  const found = rows.map((r: Record<string, unknown>) => {
    const jobset = unprefixed(r, 'j', 'id');
    const project = unprefixed(r, 'p', 'name');
    return { build: toBuild(r), jobset: jobset && toJobset(jobset), project: project && toProject(project) };
  });
  return byKey(ids, found, (f) => f.build.id);
}

/** `jobsets` rows by id. */
export async function jobsetsById(db: Queryable, ids: readonly number[]): Promise<(Jobset | null)[]> {
  const { rows } = await db.query(`/* jobsetsById */ SELECT ${JOBSET_COLUMNS} FROM jobsets j WHERE j.id = ANY($1::int[])`, [ids]);
  return byKey(ids, rows.map(toJobset), (j) => j.id);
}

/** `jobsets` rows by (project, name), keys formatted as `project:name`. */
export async function jobsetsByName(db: Queryable, keys: readonly { project: string; name: string }[]): Promise<(Jobset | null)[]> {
  const { rows } = await db.query(
    `/* jobsetsByName */ SELECT ${JOBSET_COLUMNS}
     FROM jobsets j JOIN unnest($1::text[], $2::text[]) AS k(project, name) ON j.project = k.project AND j.name = k.name`,
    [keys.map((k) => k.project), keys.map((k) => k.name)],
  );
  const parsed = rows.map(toJobset);
  return keys.map((k) => parsed.find((j) => j.project === k.project && j.name === k.name) ?? null);
}

/** `projects` rows by name. */
export async function projectsByName(db: Queryable, names: readonly string[]): Promise<(Project | null)[]> {
  const { rows } = await db.query(`/* projectsByName */ SELECT ${PROJECT_COLUMNS} FROM projects p WHERE p.name = ANY($1::text[])`, [names]);
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
