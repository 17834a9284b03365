/**
 * The Live view's model: what the events say about builds and evaluations
 * now, by project and jobset. Pure data, no DOM: `apply` takes one event.
 *
 * Contract:
 * - A build is queued (buildQueued, or a cachedBuildQueued of an unfinished
 *   build), building (buildStarted or stepStarted, with the step's number and
 *   machine when a step said it), or finished (buildFinished, for the build
 *   and each dependent, or any event whose row says `finished`). A finish
 *   is final for this page: a later event of the same build moves it back
 *   only when its row is no longer finished (a restart).
 * - Rows are the gateway's as of each event (loaded when the event was
 *   read), so a replayed old event may already carry a finished row: the
 *   build is then placed by its row.
 * - Memory is bounded: each jobset keeps its newest `FINISHED_PER_JOBSET`
 *   finished builds, and the board its newest `EVALUATIONS` evaluations.
 *   Queued and building builds are kept until they finish.
 * - Events of other channels (queue changes, gaps) change nothing here.
 */
import type { BuildStatus, BuildSummaryFragment, EventFieldsFragment } from '../api/generated';

/** How many finished builds a jobset shows. */
export const FINISHED_PER_JOBSET = 8;
/** How many evaluations the board keeps. */
export const EVALUATIONS = 12;

/** One build as the board shows it. */
export interface BuildCard {
  id: number;
  job: string;
  system: string;
  state: 'queued' | 'building' | 'finished';
  queuedAt: string | null;
  /** While building: the step and machine, when a step event said them. */
  step: { nr: number; machine: string } | null;
  status: BuildStatus | null;
  statusCode: number | null;
  startTime: string | null;
  stopTime: string | null;
  /** When the board last changed it (receivedAt of the event). */
  updatedAt: string;
}

/** The builds of one jobset. */
export interface JobsetLane {
  key: string;
  project: string;
  jobset: string;
  builds: Map<number, BuildCard>;
}

/** One evaluation attempt, by the evaluator's trace id. */
export interface EvaluationCard {
  traceId: string;
  project: string;
  jobset: string;
  state: 'started' | 'added' | 'cached' | 'failed';
  evaluationId: number | null;
  nrBuilds: number | null;
  hasNewBuilds: boolean | null;
  startedAt: string | null;
  updatedAt: string;
}

const UNKNOWN = '(unknown)';

/** The board; see the module's contract. */
export class Board {
  /** Lanes by `project/jobset`, in the order first seen. */
  readonly lanes = new Map<string, JobsetLane>();
  /** Newest first. */
  evaluations: EvaluationCard[] = [];
  /** Which lane each build is in. */
  private readonly laneOf = new Map<number, JobsetLane>();

  /** Applies one event. */
  apply(event: EventFieldsFragment): void {
    const at = event.receivedAt;
    switch (event.__typename) {
      case 'BuildQueuedEvent':
        this.place(event.buildId, event.build, at, 'queued');
        break;
      case 'CachedBuildQueuedEvent':
        this.place(event.buildId, event.build, at, 'queued');
        break;
      case 'BuildStartedEvent':
        this.place(event.buildId, event.build, at, 'building');
        break;
      case 'StepStartedEvent': {
        const card = this.place(event.buildId, event.build, at, 'building');
        if (card && card.state === 'building' && event.step) card.step = { nr: event.stepNr, machine: event.step.machine };
        break;
      }
      case 'StepFinishedEvent':
        // The step's end says nothing new unless its row shows the build finished with it.
        if (event.build?.finished) this.place(event.buildId, event.build, at, 'finished');
        break;
      case 'BuildFinishedEvent':
        this.place(event.buildId, event.build, at, 'finished');
        event.dependents.forEach((row, i) => this.place(event.dependentIds[i] ?? row?.id ?? -1, row, at, 'finished'));
        break;
      case 'CachedBuildFinishedEvent':
        break;
      case 'EvalStartedEvent':
        this.evaluation(event.traceId, event.jobset, at, { state: 'started', startedAt: at });
        break;
      case 'EvalAddedEvent':
        this.evaluation(event.traceId, event.jobset, at, {
          state: 'added',
          evaluationId: event.evaluationId,
          nrBuilds: event.evaluation?.nrBuilds ?? null,
          hasNewBuilds: event.evaluation?.hasNewBuilds ?? null,
        });
        break;
      case 'EvalCachedEvent':
        this.evaluation(event.traceId, event.jobset, at, { state: 'cached', evaluationId: event.evaluationId });
        break;
      case 'EvalFailedEvent':
        this.evaluation(event.traceId, event.jobset, at, { state: 'failed' });
        break;
      default:
        break;
    }
  }

  /** Puts a build where `said` (or its row, when finished) places it; returns its card. */
  private place(id: number, row: BuildSummaryFragment | null, at: string, said: BuildCard['state']): BuildCard | null {
    if (id < 0) return null;
    // A row that is gone says nothing of the jobset: the build stays where it was.
    const lane = row?.jobset ? this.lane(row) : (this.laneOf.get(id) ?? this.lane(row));
    let card = this.laneOf.get(id) === lane ? lane.builds.get(id) : undefined;
    if (!card) {
      this.laneOf.get(id)?.builds.delete(id);
      card = {
        id,
        job: row?.job ?? `build ${id}`,
        system: row?.system ?? '',
        state: said,
        queuedAt: row?.timestamp ?? null,
        step: null,
        status: null,
        statusCode: null,
        startTime: null,
        stopTime: null,
        updatedAt: at,
      };
      lane.builds.set(id, card);
      this.laneOf.set(id, lane);
    }
    let state = row?.finished ? 'finished' : said;
    // A finish stays unless the row says the build runs again (restarted).
    if (card.state === 'finished' && state !== 'finished' && (row === null || row.finished)) state = 'finished';
    card.state = state;
    card.updatedAt = at;
    if (row) {
      card.job = row.job;
      card.system = row.system;
      card.queuedAt = row.timestamp;
      card.status = row.buildStatus;
      card.statusCode = row.buildStatusCode;
      card.startTime = row.startTime;
      card.stopTime = row.stopTime;
    }
    if (state !== 'building') card.step = null;
    if (state === 'finished') this.trimFinished(lane);
    return card;
  }

  private lane(row: BuildSummaryFragment | null): JobsetLane {
    const project = row?.jobset?.projectName ?? UNKNOWN;
    const jobset = row?.jobset?.name ?? UNKNOWN;
    const key = `${project}/${jobset}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, project, jobset, builds: new Map() };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private trimFinished(lane: JobsetLane): void {
    const finished = [...lane.builds.values()].filter((b) => b.state === 'finished');
    if (finished.length <= FINISHED_PER_JOBSET) return;
    finished.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id - a.id);
    for (const old of finished.slice(FINISHED_PER_JOBSET)) {
      lane.builds.delete(old.id);
      this.laneOf.delete(old.id);
    }
  }

  private evaluation(
    traceId: string,
    jobset: { name: string; projectName: string } | null,
    at: string,
    change: Partial<EvaluationCard> & Pick<EvaluationCard, 'state'>,
  ): void {
    let card = this.evaluations.find((e) => e.traceId === traceId);
    if (!card) {
      card = {
        traceId,
        project: jobset?.projectName ?? UNKNOWN,
        jobset: jobset?.name ?? UNKNOWN,
        state: change.state,
        evaluationId: null,
        nrBuilds: null,
        hasNewBuilds: null,
        startedAt: null,
        updatedAt: at,
      };
    } else {
      this.evaluations = this.evaluations.filter((e) => e !== card);
    }
    Object.assign(card, change, { updatedAt: at });
    this.evaluations.unshift(card);
    this.evaluations.length = Math.min(this.evaluations.length, EVALUATIONS);
  }
}
