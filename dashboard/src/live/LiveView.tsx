/**
 * Live: builds by project and jobset (queued, building with the current step
 * and machine, finished with status and duration) and the latest
 * evaluations, as the live feed's events arrive. Reads the board only.
 */
import { between, span, statusLabel, time } from '../format';
import { useStore } from '../store';
import type { BuildCard, EvaluationCard, JobsetLane } from './board';
import type { LiveFeed } from './feed';

/** How many queued builds a lane lists before "and N more". */
const QUEUED_SHOWN = 12;

function Build({ card }: { card: BuildCard }) {
  const status = statusLabel(card.status, card.statusCode);
  const took = between(card.startTime, card.stopTime);
  return (
    <li class={`build ${card.state} ${card.state === 'finished' ? (status.ok ? 'ok' : 'fail') : ''}`} data-build-id={card.id}>
      <span class="id">#{card.id}</span> <span class="job">{card.job}</span> <span class="muted small">{card.system}</span>
      {card.state === 'building' ? (
        <div class="small">{card.step ? `step ${card.step.nr} on ${card.step.machine}` : 'dispatched'}</div>
      ) : null}
      {card.state === 'finished' ? (
        <div class="small">
          <span class={`badge ${status.ok ? 'ok' : 'fail'}`}>{status.text}</span>
          {took !== null ? ` in ${span(took)}` : ''}
          {card.stopTime ? <span class="muted"> · {time(card.stopTime)}</span> : null}
        </div>
      ) : null}
      {card.state === 'queued' && card.queuedAt ? <div class="small muted">queued {time(card.queuedAt)}</div> : null}
    </li>
  );
}

function Column({ title, builds, limit }: { title: string; builds: BuildCard[]; limit?: number }) {
  const shown = limit ? builds.slice(0, limit) : builds;
  return (
    <div class="column">
      <h4>
        {title} <span class="count">{builds.length}</span>
      </h4>
      <ul>
        {shown.map((card) => (
          <Build key={card.id} card={card} />
        ))}
      </ul>
      {builds.length > shown.length ? <div class="muted small">and {builds.length - shown.length} more</div> : null}
    </div>
  );
}

function Lane({ lane }: { lane: JobsetLane }) {
  const all = [...lane.builds.values()];
  const queued = all.filter((b) => b.state === 'queued').sort((a, b) => a.id - b.id);
  const building = all.filter((b) => b.state === 'building').sort((a, b) => a.id - b.id);
  const finished = all.filter((b) => b.state === 'finished').sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id - a.id);
  return (
    <section class="lane" data-jobset={lane.key}>
      <h3>
        {lane.project} <span class="muted">/</span> {lane.jobset}
      </h3>
      <div class="columns">
        <Column title="queued" builds={queued} limit={QUEUED_SHOWN} />
        <Column title="building" builds={building} />
        <Column title="finished" builds={finished} />
      </div>
    </section>
  );
}

const EVAL_WORDS: Record<EvaluationCard['state'], string> = {
  started: 'evaluating…',
  added: 'evaluated',
  cached: 'inputs unchanged',
  failed: 'failed',
};

function Evaluations({ evaluations }: { evaluations: EvaluationCard[] }) {
  if (evaluations.length === 0) return <p class="muted">No evaluation yet.</p>;
  return (
    <ul class="evaluations">
      {evaluations.map((e) => (
        <li key={e.traceId} class={`evaluation ${e.state}`}>
          <strong>
            {e.project}/{e.jobset}
          </strong>{' '}
          <span class={`badge ${e.state === 'failed' ? 'fail' : e.state === 'added' ? 'ok' : ''}`}>{EVAL_WORDS[e.state]}</span>
          {e.evaluationId !== null ? ` #${e.evaluationId}` : ''}
          {e.state === 'added' && e.nrBuilds !== null ? ` · ${e.nrBuilds} build(s)` : ''}
          <span class="muted small"> · {time(e.updatedAt)}</span>
        </li>
      ))}
    </ul>
  );
}

/** The Live view. */
export function LiveView({ feed }: { feed: LiveFeed }) {
  useStore(feed);
  const lanes = [...feed.board.lanes.values()].sort((a, b) => a.key.localeCompare(b.key));
  return (
    <div class="live">
      <section>
        <h2>Evaluations</h2>
        <Evaluations evaluations={feed.board.evaluations} />
      </section>
      <section>
        <h2>Builds</h2>
        {lanes.length === 0 ? <p class="muted">No build event in the last few minutes; new ones appear here as Hydra sends them.</p> : null}
        {lanes.map((lane) => (
          <Lane key={lane.key} lane={lane} />
        ))}
      </section>
    </div>
  );
}
