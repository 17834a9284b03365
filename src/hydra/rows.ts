/**
 * Hydra's rows as the gateway sees them: typed records parsed at the boundary.
 *
 * Contract: query modules return raw `pg` rows (lower-case column names, Unix
 * seconds as integers, 0/1 integers as booleans); the `to*` functions here turn
 * them into these records once, so nothing above this module knows Hydra's
 * storage quirks. Times become `Date` (null stays null, and so does Hydra's 0
 * "unset" for times), integer flags become booleans, `bigint` sizes become
 * numbers (exact below 2^53 bytes).
 */

/** A `projects` row. */
export interface Project {
  name: string;
  displayName: string;
  description: string | null;
  enabled: boolean;
  hidden: boolean;
  owner: string;
  homepage: string | null;
}

/** A `jobsets` row. */
export interface Jobset {
  id: number;
  project: string;
  name: string;
  enabled: number;
  errorMsg: string | null;
  errorTime: Date | null;
  lastCheckedTime: Date | null;
  triggerTime: Date | null;
  checkInterval: number;
  schedulingShares: number;
  type: number;
  flake: string | null;
  nixExprInput: string | null;
  nixExprPath: string | null;
  emailOverride: string;
}

/** A `jobsetevals` row. */
export interface Evaluation {
  id: number;
  jobsetId: number;
  evaluationErrorId: number | null;
  timestamp: Date;
  checkoutTime: number;
  evalTime: number;
  hasNewBuilds: boolean;
  hash: string;
  nrBuilds: number | null;
  nrSucceeded: number | null;
  flake: string | null;
}

/** A `builds` row. */
export interface Build {
  id: number;
  finished: boolean;
  timestamp: Date;
  jobsetId: number;
  job: string;
  nixName: string | null;
  description: string | null;
  drvPath: string;
  system: string;
  priority: number | null;
  globalPriority: number | null;
  startTime: Date | null;
  stopTime: Date | null;
  isCachedBuild: boolean | null;
  buildStatus: number | null;
  size: number | null;
  closureSize: number | null;
  releaseName: string | null;
  keep: boolean | null;
  notificationPendingSince: Date | null;
}

/** A `buildsteps` row. */
export interface BuildStep {
  buildId: number;
  stepNr: number;
  type: number;
  drvPath: string;
  busy: number;
  status: number | null;
  errorMsg: string | null;
  startTime: Date | null;
  stopTime: Date | null;
  machine: string;
  system: string | null;
  propagatedFrom: number | null;
  overhead: number | null;
  timesBuilt: number | null;
  isNondeterministic: boolean | null;
  resolvedDrvPath: string | null;
}

/** A `buildoutputs` row. */
export interface BuildOutput {
  buildId: number;
  name: string;
  path: string | null;
}

/**
 * One finish of a build, as Hydra names it: the build and the
 * `notificationpendingsince` (Unix seconds) of that finish. A build that was
 * restarted and finished again has a second occurrence with a newer value.
 */
export interface Occurrence {
  buildId: number;
  pendingSince: number;
}

/** The range of Hydra's `integer` columns (ids and Unix seconds are Postgres int4). */
export const INT4_MIN = -2_147_483_648;
/** The range of Hydra's `integer` columns (ids and Unix seconds are Postgres int4). */
export const INT4_MAX = 2_147_483_647;

/** Whether `value` fits one of Hydra's `integer` columns. */
export function isInt4(value: number): boolean {
  return Number.isInteger(value) && value >= INT4_MIN && value <= INT4_MAX;
}

type Raw = Record<string, unknown>;

/** Hydra's Unix seconds (0 or null meaning unset) as a Date. */
export function fromUnix(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  const seconds = Number(value);
  return seconds === 0 || !Number.isFinite(seconds) ? null : new Date(seconds * 1000);
}

/**
 * A Date as Hydra's Unix seconds.
 * @throws RangeError for fractional seconds, or an instant outside what Hydra
 * stores (32-bit seconds: 1901-12-13T20:45:52Z to 2038-01-19T03:14:07Z).
 */
export function toUnix(date: Date): number {
  const ms = date.getTime();
  if (ms % 1000 !== 0) throw new RangeError(`${date.toISOString()} has fractional seconds; Hydra stores whole seconds`);
  if (!isInt4(ms / 1000)) throw new RangeError(`${date.toISOString()} is outside what Hydra stores (32-bit Unix seconds)`);
  return ms / 1000;
}

const flag = (v: unknown): boolean | null => (v === null || v === undefined ? null : Number(v) !== 0);
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Parses a `projects` row. */
export const toProject = (r: Raw): Project => ({
  name: String(r.name),
  displayName: String(r.displayname),
  description: str(r.description),
  enabled: flag(r.enabled) ?? false,
  hidden: flag(r.hidden) ?? false,
  owner: String(r.owner),
  homepage: str(r.homepage),
});

/** Parses a `jobsets` row. */
export const toJobset = (r: Raw): Jobset => ({
  id: Number(r.id),
  project: String(r.project),
  name: String(r.name),
  enabled: Number(r.enabled ?? 0),
  errorMsg: str(r.errormsg),
  errorTime: fromUnix(r.errortime),
  lastCheckedTime: fromUnix(r.lastcheckedtime),
  triggerTime: fromUnix(r.triggertime),
  checkInterval: Number(r.checkinterval ?? 0),
  schedulingShares: Number(r.schedulingshares ?? 0),
  type: Number(r.type ?? 0),
  flake: str(r.flake),
  nixExprInput: str(r.nixexprinput),
  nixExprPath: str(r.nixexprpath),
  emailOverride: String(r.emailoverride ?? ''),
});

/** Parses a `jobsetevals` row. */
export const toEvaluation = (r: Raw): Evaluation => ({
  id: Number(r.id),
  jobsetId: Number(r.jobset_id),
  evaluationErrorId: num(r.evaluationerror_id),
  timestamp: fromUnix(r.timestamp) ?? new Date(0),
  checkoutTime: Number(r.checkouttime),
  evalTime: Number(r.evaltime),
  hasNewBuilds: flag(r.hasnewbuilds) ?? false,
  hash: String(r.hash),
  nrBuilds: num(r.nrbuilds),
  nrSucceeded: num(r.nrsucceeded),
  flake: str(r.flake),
});

/** Parses a `builds` row. */
export const toBuild = (r: Raw): Build => ({
  id: Number(r.id),
  finished: Number(r.finished) === 1,
  timestamp: fromUnix(r.timestamp) ?? new Date(0),
  jobsetId: Number(r.jobset_id),
  job: String(r.job),
  nixName: str(r.nixname),
  description: str(r.description),
  drvPath: String(r.drvpath),
  system: String(r.system),
  priority: num(r.priority),
  globalPriority: num(r.globalpriority),
  startTime: fromUnix(r.starttime),
  stopTime: fromUnix(r.stoptime),
  isCachedBuild: flag(r.iscachedbuild),
  buildStatus: num(r.buildstatus),
  size: num(r.size),
  closureSize: num(r.closuresize),
  releaseName: str(r.releasename),
  keep: flag(r.keep),
  notificationPendingSince: fromUnix(r.notificationpendingsince),
});

/** Parses a `buildsteps` row. */
export const toBuildStep = (r: Raw): BuildStep => ({
  buildId: Number(r.build),
  stepNr: Number(r.stepnr),
  type: Number(r.type ?? 0),
  drvPath: String(r.drvpath),
  busy: Number(r.busy),
  status: num(r.status),
  errorMsg: str(r.errormsg),
  startTime: fromUnix(r.starttime),
  stopTime: fromUnix(r.stoptime),
  machine: String(r.machine ?? ''),
  system: str(r.system),
  propagatedFrom: num(r.propagatedfrom),
  overhead: num(r.overhead),
  timesBuilt: num(r.timesbuilt),
  isNondeterministic: r.isnondeterministic === null || r.isnondeterministic === undefined ? null : Boolean(r.isnondeterministic),
  resolvedDrvPath: str(r.resolveddrvpath),
});

/** Parses a `buildoutputs` row. */
export const toBuildOutput = (r: Raw): BuildOutput => ({
  buildId: Number(r.build),
  name: String(r.name),
  path: str(r.path),
});

/** `builds.buildstatus` / `buildsteps.status` codes, by the names the API gives them. */
export const BUILD_STATUS = {
  SUCCEEDED: 0,
  FAILED: 1,
  DEPENDENCY_FAILED: 2,
  ABORTED: 3,
  CANCELLED: 4,
  FAILED_WITH_OUTPUT: 6,
  TIMED_OUT: 7,
  CACHED_FAILURE: 8,
  UNSUPPORTED_SYSTEM: 9,
  LOG_LIMIT_EXCEEDED: 10,
  OUTPUT_LIMIT_EXCEEDED: 11,
  NOT_DETERMINISTIC: 12,
  RESOLVED: 13,
} as const;
