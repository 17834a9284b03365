/**
 * The commit-status reporter: turns build events into commit statuses on a
 * forge, GitHub (or GitHub Enterprise, through its API base URL) or Gitea,
 * whose statuses endpoints take the same request. It is a webhook
 * underneath: each status is a delivery of its own, retried and logged like
 * any other, in order per build.
 *
 * Contract (the states follow Hydra's GithubStatus plugin):
 * - `build_queued` and `build_started`: `pending` for every evaluation that
 *   contains the build, unless it has finished already; `build_finished`: the
 *   build and each dependent, from its `buildstatus` (0 `success`; 3, 4, 8,
 *   10, 11 `error`; anything else `failure`); `cached_build_queued`: `pending`,
 *   and `cached_build_finished`: the finished state, for the evaluation named
 *   only, so a job that was already built or cached still reports.
 * - For every rule whose `jobs` (a regular expression on the whole
 *   `project:jobset:job`) matches, one status per commit target
 *   (commits.ts), with the rule's context, description and target URL
 *   (templates with `{project}`, `{jobset}`, `{job}`, `{build}`), defaults as
 *   Hydra's.
 */
import type { Queryable } from '../../db/queryable.js';
import { errors } from '../../errors.js';
import type { GatewayEvent } from '../../events/event.js';
import type { Channel } from '../../hydra/channels.js';
import type { Build, Jobset } from '../../hydra/rows.js';
import { type CommitTarget, commitsOf, evaluationsOf } from './commits.js';

/** The channels a reporter reads from the journal. */
export const STATUS_CHANNELS: readonly Channel[] = [
  'build_queued',
  'build_started',
  'build_finished',
  'cached_build_queued',
  'cached_build_finished',
];

/** A rule: which jobs report, how. */
export interface StatusRule {
  /** A regular expression matched against the whole `project:jobset:job`. @default '.*' */
  jobs?: string;
  /** The names of the (legacy) inputs whose commits get statuses; flake evaluations need none. */
  inputs?: string[];
  /** The status's context. @default `continuous-integration/hydra:{project}:{jobset}:{job}:{build}` */
  context?: string;
  /** @default `Hydra build #{build} of {project}:{jobset}:{job}` */
  description?: string;
  /** @default `{hydra}/build/{build}` */
  targetUrl?: string;
  /** The short context `ci/hydra:…` with `-pr-N` removed from the job. */
  useShortContext?: boolean;
  /** No `:{build}` at the end of the default contexts. */
  excludeBuildFromContext?: boolean;
}

/** What a reporter is configured with. */
export interface ReporterOptions {
  provider: 'github' | 'gitea';
  /** The Authorization header's value, e.g. `token ghp_…` (GitHub) or `token …` (Gitea). */
  authorization: string;
  /** Hydra's base URL, for the statuses' target URLs. */
  hydraUrl: string;
  rules: StatusRule[];
}

/** One status to set. */
export interface StatusRequest {
  /** `…/repos/OWNER/REPO/statuses/REV`. */
  url: string;
  body: string;
  buildId: number;
  /** What tells this status apart among those of one event (for its message id). */
  key: string;
}

type State = 'pending' | 'success' | 'failure' | 'error';

/** Hydra's mapping of `buildstatus` to a commit status. */
export function stateOfStatus(buildStatus: number | null): State {
  if (buildStatus === 0) return 'success';
  if (buildStatus !== null && [3, 4, 8, 10, 11].includes(buildStatus)) return 'error';
  return 'failure';
}

/** Checks a reporter's options (BAD_USER_INPUT saying what is wrong). */
export function checkReporterOptions(options: ReporterOptions): ReporterOptions {
  if (!['github', 'gitea'].includes(options.provider)) throw errors.badInput('provider must be github or gitea');
  if (!options.authorization.trim())
    throw errors.badInput('a reporter needs the Authorization value the forge expects, e.g. "token ghp_…"');
  if (!/^https?:\/\//.test(options.hydraUrl)) throw errors.badInput("hydraUrl must be Hydra's base URL, e.g. https://hydra.example.org");
  if (options.rules.length === 0) throw errors.badInput('a reporter needs at least one rule');
  for (const rule of options.rules) {
    try {
      new RegExp(`^(?:${rule.jobs ?? '.*'})$`);
    } catch (error) {
      throw errors.badInput(`jobs is not a regular expression: ${(error as Error).message}`);
    }
  }
  return options;
}

/** A value DataLoader's loadMany gave, or the error it held, thrown. */
function rethrown<T>(value: T | Error): T {
  if (value instanceof Error) throw value;
  return value;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The statuses of one event; see the module contract. */
export async function statusRequests(
  db: Queryable,
  baseUrl: string,
  options: ReporterOptions,
  event: GatewayEvent,
): Promise<StatusRequest[]> {
  const notice = event.notice;
  let builds: number[];
  let onlyEvaluation: number | null = null;
  let finishedState = true;
  switch (notice.channel) {
    case 'build_queued':
    case 'build_started':
      builds = [notice.buildId];
      finishedState = false;
      break;
    case 'build_finished':
      builds = [notice.buildId, ...notice.dependentIds];
      break;
    case 'cached_build_queued':
      builds = [notice.buildId];
      onlyEvaluation = notice.evaluationId;
      finishedState = false;
      break;
    case 'cached_build_finished':
      builds = [notice.buildId];
      onlyEvaluation = notice.evaluationId;
      break;
    default:
      return [];
  }
  const jobs = options.rules.map((rule) => new RegExp(`^(?:${rule.jobs ?? '.*'})$`));
  // Loaded together: the event's loader set batches the rows of all its builds (a finish with its
  // dependents) into one statement per table. A failed load fails the event, as one load did.
  const loadedBuilds = (await event.loaders.build.loadMany(builds)).map(rethrown);
  // A build reported as queued that has finished meanwhile reports its finish instead (with its own event).
  const reported = loadedBuilds.filter((b): b is Build => b !== null && (finishedState || !b.finished));
  const jobsets = (await event.loaders.jobset.loadMany(reported.map((b) => b.jobsetId))).map(rethrown);
  const requests: StatusRequest[] = [];
  for (const [i, build] of reported.entries()) {
    const jobset = jobsets[i];
    if (!jobset) continue;
    const state: State = finishedState ? stateOfStatus(build.buildStatus) : 'pending';
    const evaluations = onlyEvaluation === null ? await evaluationsOf(db, build.id) : [onlyEvaluation];
    for (const [index, rule] of options.rules.entries()) {
      if (!jobs[index]!.test(`${jobset.project}:${jobset.name}:${build.job}`)) continue;
      for (const target of await commitsOf(db, evaluations, rule.inputs ?? [])) {
        requests.push(request(baseUrl, options, rule, index, { build, jobset, target, state }));
      }
    }
  }
  return requests;
}

function request(
  baseUrl: string,
  options: ReporterOptions,
  rule: StatusRule,
  index: number,
  at: { build: Build; jobset: Jobset; target: CommitTarget; state: State },
): StatusRequest {
  const { build, jobset, target, state } = at;
  const values = {
    project: jobset.project,
    jobset: jobset.name,
    job: build.job,
    build: String(build.id),
    hydra: options.hydraUrl.replace(/\/$/, ''),
  };
  const trailer = rule.excludeBuildFromContext ? '' : ':{build}';
  const context =
    rule.context ??
    (rule.useShortContext
      ? `ci/hydra:{project}:{jobset}:${build.job.replace(/-pr-\d+/, '')}${trailer}`
      : `continuous-integration/hydra:{project}:{jobset}:{job}${trailer}`);
  const body = {
    state,
    target_url: fill(rule.targetUrl ?? '{hydra}/build/{build}', values),
    description: fill(rule.description ?? 'Hydra build #{build} of {project}:{jobset}:{job}', values),
    context: fill(context, values),
  };
  return {
    url: `${baseUrl.replace(/\/$/, '')}/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.repo)}/statuses/${target.rev}`,
    body: JSON.stringify(body),
    buildId: build.id,
    key: `${build.id}:${index}:${target.input ?? 'flake'}:${target.owner}/${target.repo}@${target.rev}`,
  };
}
