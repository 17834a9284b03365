/**
 * History, for the auditor: the journal as a timeline (the `events` query,
 * oldest first), filtered by project, jobset, job, channel and time range,
 * fifty events a page, with gaps as rows of their own; and "since my last
 * visit", everything after the cursor the previous visit saved.
 *
 * Contract: the filters live in the URL (`#/history?project=…&since=…`), so
 * a view can be reloaded and shared; pages go forward with the previous
 * page's `endCursor` and back through the cursors this view has used. An
 * error (a bad filter, CURSOR_EXPIRED for a saved cursor older than the
 * journal's retention) is said in words, with what to do.
 */
import { useEffect, useState } from 'preact/hooks';
import { cursorLabel } from '../api/cursor';
import { type EventFieldsFragment, JournalPageDocument, type JournalPageQueryVariables, type NotificationChannel } from '../api/generated';
import { ApiError, run } from '../api/http';
import { EventTable } from '../events/EventTable';
import { time } from '../format';
import { previousVisit } from './lastVisit';

const PAGE_SIZE = 50;

/** Every channel, as the `channels` argument spells it. */
const CHANNELS: NotificationChannel[] = [
  'EVAL_STARTED',
  'EVAL_ADDED',
  'EVAL_CACHED',
  'EVAL_FAILED',
  'BUILD_QUEUED',
  'BUILD_STARTED',
  'STEP_STARTED',
  'STEP_FINISHED',
  'BUILD_FINISHED',
  'CACHED_BUILD_QUEUED',
  'CACHED_BUILD_FINISHED',
  'BUILDS_ADDED',
  'BUILDS_RESTARTED',
  'BUILDS_CANCELLED',
  'BUILDS_BUMPED',
  'BUILDS_DELETED',
  'JOBSETS_ADDED',
  'JOBSETS_DELETED',
  'JOBSET_SCHEDULING_CHANGED',
  'JOBSET_SHARES_CHANGED',
  'HYDRA_NOTIFY_DUMP_METRICS',
];

/** The filters, as in the URL. `after` starts the timeline after a cursor ("since my last visit"). */
export interface HistoryFilters {
  project: string;
  jobset: string;
  job: string;
  channel: string;
  /** `datetime-local` values, in the browser's time zone. */
  since: string;
  until: string;
  after: string;
}

const EMPTY: HistoryFilters = { project: '', jobset: '', job: '', channel: '', since: '', until: '', after: '' };

/** The filters of a `#/history?…` query string. */
export function filtersOf(query: URLSearchParams): HistoryFilters {
  const filters = { ...EMPTY };
  for (const key of Object.keys(EMPTY) as (keyof HistoryFilters)[]) filters[key] = query.get(key) ?? '';
  return filters;
}

function hashOf(filters: HistoryFilters): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
  const text = query.toString();
  return `#/history${text ? `?${text}` : ''}`;
}

/** Without a time range or a cursor, the timeline starts this long ago. */
const DEFAULT_WINDOW_MS = 60 * 60_000;

/** Whether the filters leave the start open (the last hour is shown then). */
function unbounded(filters: HistoryFilters): boolean {
  return !filters.since && !filters.until && !filters.after;
}

function variables(filters: HistoryFilters, after: string | null, openedAt: number): JournalPageQueryVariables {
  const filter = { project: filters.project || undefined, jobset: filters.jobset || undefined, job: filters.job || undefined };
  const since = filters.since ? new Date(filters.since) : unbounded(filters) ? new Date(openedAt - DEFAULT_WINDOW_MS) : null;
  return {
    first: PAGE_SIZE,
    after: after ?? (filters.after || undefined),
    filter: filter.project || filter.jobset || filter.job ? filter : undefined,
    channels: filters.channel ? [filters.channel as NotificationChannel] : undefined,
    since: since?.toISOString(),
    until: filters.until ? new Date(filters.until).toISOString() : undefined,
  };
}

interface Page {
  events: EventFieldsFragment[];
  hasNextPage: boolean;
  endCursor: string | null;
}

/** What the error means for the auditor. */
function explain(error: unknown): string {
  if (error instanceof ApiError && error.code === 'CURSOR_EXPIRED')
    return 'The journal no longer holds events that old (retention pruned them). Choose a time range instead.';
  if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') return 'The gateway wants a token: enter one at the top.';
  return error instanceof Error ? error.message : String(error);
}

/** What the current page holds, by kind: "12 builds finished (3 failed), 2 evaluations failed". */
function summary(events: readonly EventFieldsFragment[]): string {
  let finished = 0;
  let failed = 0;
  let evalFailed = 0;
  let queued = 0;
  let gaps = 0;
  for (const e of events) {
    if (e.__typename === 'BuildFinishedEvent') {
      finished += 1;
      if (e.build && e.build.buildStatus !== 'SUCCEEDED') failed += 1;
    } else if (e.__typename === 'BuildQueuedEvent') queued += 1;
    else if (e.__typename === 'EvalFailedEvent') evalFailed += 1;
    else if (e.__typename === 'GapEvent') gaps += 1;
  }
  const parts = [
    `${finished} build(s) finished${failed ? ` (${failed} not successful)` : ''}`,
    `${queued} queued`,
    `${evalFailed} evaluation(s) failed`,
  ];
  if (gaps) parts.push(`${gaps} gap(s)`);
  return `On this page: ${parts.join(', ')}.`;
}

/** The History view; `query` is the hash's query string. New filters start it afresh (first page, opened now). */
export function HistoryView({ query }: { query: URLSearchParams }) {
  const filters = filtersOf(query);
  return <Timeline key={hashOf(filters)} filters={filters} />;
}

function Timeline({ filters }: { filters: HistoryFilters }) {
  const key = hashOf(filters);
  const [draft, setDraft] = useState(filters);
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [openedAt] = useState(() => Date.now());
  const after = pages[pages.length - 1] ?? null;

  useEffect(() => {
    let current = true;
    setLoading(true);
    run(JournalPageDocument, variables(filters, after, openedAt)).then(
      (data) => {
        if (!current) return;
        setPage({ events: data.events.edges.map((e) => e.node), ...data.events.pageInfo });
        setError(null);
        setLoading(false);
      },
      (failure: unknown) => {
        if (!current) return;
        setError(explain(failure));
        setPage(null);
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [key, after, openedAt]);

  const field = (name: keyof HistoryFilters, label: string, type: 'text' | 'datetime-local' = 'text') => {
    const onInput = (e: { currentTarget: HTMLInputElement }) => setDraft({ ...draft, [name]: e.currentTarget.value });
    return (
      <label>
        {label}{' '}
        {type === 'text' ? (
          <input name={name} type="text" size={12} value={draft[name]} onInput={onInput} />
        ) : (
          <input name={name} type="datetime-local" value={draft[name]} onInput={onInput} />
        )}
      </label>
    );
  };

  return (
    <div class="history">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          window.location.hash = hashOf({ ...draft, after: '' });
        }}
      >
        {field('project', 'project')}
        {field('jobset', 'jobset')}
        {field('job', 'job')}
        <label>
          channel{' '}
          <select name="channel" value={draft.channel} onChange={(e) => setDraft({ ...draft, channel: e.currentTarget.value })}>
            <option value="">all</option>
            {CHANNELS.map((c) => (
              <option key={c} value={c}>
                {c.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        {field('since', 'from', 'datetime-local')}
        {field('until', 'to', 'datetime-local')}
        <button type="submit">Show</button>
        <button type="button" onClick={() => (window.location.hash = hashOf(EMPTY))}>
          Clear
        </button>
      </form>
      <p class="visit">
        {previousVisit ? (
          <>
            Your previous visit saw up to cursor {cursorLabel(previousVisit.cursor)} ({time(previousVisit.at)}).{' '}
            <a href={hashOf({ ...EMPTY, after: previousVisit.cursor })}>What happened since my last visit</a>
          </>
        ) : (
          <span class="muted">This browser has no earlier visit saved; the next visit can show what happened since this one.</span>
        )}
      </p>
      {filters.after ? <p class="muted">Showing what the journal holds after cursor {cursorLabel(filters.after)}.</p> : null}
      {unbounded(filters) ? <p class="muted small">Showing the last hour, oldest first; choose a range to see more.</p> : null}
      {error ? <p class="error">{error}</p> : null}
      {page ? (
        <>
          <p class="muted small">{summary(page.events)}</p>
          {page.events.length === 0 ? <p class="muted">No event matches.</p> : <EventTable events={page.events} />}
          <nav class="pager">
            <button type="button" disabled={pages.length <= 1 || loading} onClick={() => setPages(pages.slice(0, -1))}>
              ← previous page
            </button>
            <span class="muted small">page {pages.length}</span>
            <button
              type="button"
              disabled={!page.hasNextPage || loading}
              onClick={() => page.endCursor && setPages([...pages, page.endCursor])}
            >
              next page →
            </button>
          </nav>
        </>
      ) : loading ? (
        <p class="muted">Loading…</p>
      ) : null}
    </div>
  );
}
