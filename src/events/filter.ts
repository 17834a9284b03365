/**
 * Event filters: which events a subscriber wants, by the rows they name.
 *
 * Contract: every criterion is optional and they are ANDed. A criterion is
 * tested against what the event names: `project`/`jobset` against the
 * jobset of the event (of its build, for build events), `job`/`system`
 * against its build, `buildId` against its build or, for `build_finished`,
 * any of its dependents, or `builds_added`'s lowest new build id. A criterion
 * about something the event does not name (a `job` on `eval_started`, say)
 * excludes the event, and so does a row that does not exist. Rows come from
 * the event's own loaders, so many subscribers filtering one event share one
 * batch of queries.
 */
import { errors, quoted } from '../errors.js';
import type { BuildFilter } from '../hydra/queries/pendingBuilds.js';
import type { GatewayEvent } from './event.js';

/** Filter criteria of a subscription (GraphQL `EventFilter`). */
export type EventFilter = BuildFilter;

/** Longest string a filter criterion may be (Hydra's names are far shorter). */
const MAX_CRITERION = 1_000;

/**
 * Checks a filter at the boundary: BAD_USER_INPUT for a string Postgres
 * cannot hold (a NUL byte) or one longer than any name Hydra has.
 * @returns the filter, unchanged.
 */
export function checkFilter<F extends EventFilter | null | undefined>(filter: F): F {
  for (const [key, value] of Object.entries(filter ?? {})) {
    if (typeof value !== 'string') continue;
    if (value.includes('\u0000')) throw errors.badInput(`filter.${key} contains a NUL byte, which no Hydra name has`);
    if (value.length > MAX_CRITERION)
      throw errors.badInput(`filter.${key} is ${value.length} characters long, more than ${MAX_CRITERION}: ${quoted(value, 40)}`);
  }
  return filter;
}

/** Whether `filter` has no criterion at all. */
export function isEmptyFilter(filter: EventFilter | null | undefined): boolean {
  return !filter || Object.values(filter).every((v) => v === null || v === undefined);
}

/** The build ids an event names for `buildId` matching. */
export function buildIdsOf(event: GatewayEvent): number[] {
  const n = event.notice;
  switch (n.channel) {
    case 'build_finished':
      return [n.buildId, ...n.dependentIds];
    case 'builds_added':
      return n.lowestNewBuildId === null ? [] : [n.lowestNewBuildId];
    default:
      return 'buildId' in n ? [n.buildId] : [];
  }
}

/** The one build whose job, system and jobset the event is about, if any. */
function subjectBuildId(event: GatewayEvent): number | null {
  const n = event.notice;
  if ('buildId' in n) return n.buildId;
  if (n.channel === 'builds_added') return n.lowestNewBuildId;
  return null;
}

/** Whether `event` passes `filter`. */
export async function matches(event: GatewayEvent, filter: EventFilter | null | undefined): Promise<boolean> {
  if (!filter || isEmptyFilter(filter)) return true;
  const { project, jobset, job, buildId, system } = filter;
  if (buildId != null && !buildIdsOf(event).includes(buildId)) return false;

  const subject = subjectBuildId(event);
  const build = subject === null ? null : await event.loaders.build.load(subject);
  if (job != null && build?.job !== job) return false;
  if (system != null && build?.system !== system) return false;

  if (project != null || jobset != null) {
    const jobsetId = build?.jobsetId ?? ('jobsetId' in event.notice ? event.notice.jobsetId : null);
    const row = jobsetId === null ? null : await event.loaders.jobset.load(jobsetId);
    if (!row) return false;
    if (project != null && row.project !== project) return false;
    if (jobset != null && row.name !== jobset) return false;
  }
  return true;
}
