/**
 * One event in words, for the Stream and History views: a title naming what
 * happened and to what (`build 42 queued`, `nixpkgs/trunk evaluation failed`),
 * the rows' details, and a tone (success, failure, neutral, gap).
 */
import type { BuildSummaryFragment, EventFieldsFragment } from '../api/generated';
import { between, span, statusLabel, time } from '../format';

/** What a row shows of an event. */
export interface Described {
  title: string;
  detail: string;
  tone: 'ok' | 'fail' | 'info' | 'gap';
}

function where(row: { jobset: { name: string; projectName: string } | null } | null): string {
  return row?.jobset ? `${row.jobset.projectName}/${row.jobset.name}` : '';
}

function build(row: BuildSummaryFragment | null): string {
  if (!row) return '(the row is gone)';
  return [where(row), row.job, row.system].filter(Boolean).join(' · ');
}

/** The words for `event`. */
export function describe(event: EventFieldsFragment): Described {
  switch (event.__typename) {
    case 'BuildQueuedEvent':
      return { title: `build ${event.buildId} queued`, detail: build(event.build), tone: 'info' };
    case 'BuildStartedEvent':
      return { title: `build ${event.buildId} started`, detail: build(event.build), tone: 'info' };
    case 'StepStartedEvent':
      return {
        title: `build ${event.buildId} step ${event.stepNr} started`,
        detail: [event.step?.machine ? `on ${event.step.machine}` : '', build(event.build)].filter(Boolean).join(' · '),
        tone: 'info',
      };
    case 'StepFinishedEvent': {
      const status = event.step?.status ? statusLabel(event.step.status, null) : null;
      return {
        title: `build ${event.buildId} step ${event.stepNr} ${status ? status.text : 'finished'}`,
        detail: [event.step?.machine ? `on ${event.step.machine}` : '', build(event.build)].filter(Boolean).join(' · '),
        tone: status && !status.ok ? 'fail' : 'info',
      };
    }
    case 'BuildFinishedEvent': {
      const status = event.build ? statusLabel(event.build.buildStatus, event.build.buildStatusCode) : null;
      const took = between(event.build?.startTime, event.build?.stopTime);
      const dependents = event.dependentIds.length ? `; ${event.dependentIds.length} dependent(s): ${event.dependentIds.join(', ')}` : '';
      return {
        title: `build ${event.buildId} ${status ? status.text : 'finished'}${event.source === 'RECOVERED' ? ' (recovered)' : ''}`,
        detail: `${build(event.build)}${took !== null ? ` · took ${span(took)}` : ''}${dependents}`,
        tone: status?.ok ? 'ok' : 'fail',
      };
    }
    case 'CachedBuildQueuedEvent':
      return { title: `evaluation ${event.evaluationId} reuses queued build ${event.buildId}`, detail: build(event.build), tone: 'info' };
    case 'CachedBuildFinishedEvent':
      return { title: `evaluation ${event.evaluationId} reuses finished build ${event.buildId}`, detail: build(event.build), tone: 'info' };
    case 'EvalStartedEvent':
      return { title: `${where(event)} evaluation started`, detail: `trace ${event.traceId}`, tone: 'info' };
    case 'EvalAddedEvent':
      return {
        title: `${where(event)} evaluation ${event.evaluationId} added`,
        detail: event.evaluation
          ? `${event.evaluation.nrBuilds ?? 0} build(s)${event.evaluation.hasNewBuilds ? ', new ones among them' : ', none new'}`
          : '',
        tone: 'ok',
      };
    case 'EvalCachedEvent':
      return { title: `${where(event)} inputs unchanged`, detail: `evaluation ${event.evaluationId} stays current`, tone: 'info' };
    case 'EvalFailedEvent':
      return { title: `${where(event)} evaluation failed`, detail: `trace ${event.traceId}`, tone: 'fail' };
    case 'QueueChangedEvent':
      return {
        title: event.kind.toLowerCase().replace(/_/g, ' '),
        detail: event.lowestNewBuildId !== null ? `from build ${event.lowestNewBuildId}` : event.payload,
        tone: 'info',
      };
    case 'GapEvent':
      return gap(event.from, event.to);
  }
}

/** A window no gateway listened. */
export function gap(from: string, to: string): Described {
  const lasted = between(from, to);
  return {
    title: `gap: no gateway listened from ${time(from)} to ${time(to)}${lasted !== null ? ` (${span(lasted)})` : ''}`,
    detail: "Hydra's notifications of this window are lost; build_finished still pending was recovered right after.",
    tone: 'gap',
  };
}
