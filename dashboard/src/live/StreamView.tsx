/**
 * Stream: every event this page received, newest first, not only the latest
 * (GraphiQL links here), narrowed on the page by channel, project, jobset or
 * job. Gaps are rows of their own.
 */
import { useState } from 'preact/hooks';
import type { EventFieldsFragment } from '../api/generated';
import { EventTable } from '../events/EventTable';
import { useStore } from '../store';
import { KEEP, type LiveFeed } from './feed';

/** How many rows the table renders at first; "show more" adds as many again. */
const PAGE = 300;

interface Narrowing {
  channel: string;
  text: string;
}

function rowOf(event: EventFieldsFragment): { jobset: { name: string; projectName: string } | null; job?: string } | null {
  if ('build' in event && event.build) return { jobset: event.build.jobset, job: event.build.job };
  if ('jobset' in event) return { jobset: event.jobset };
  return null;
}

function matches(event: EventFieldsFragment, narrowing: Narrowing): boolean {
  if (event.__typename === 'GapEvent') return true;
  if (narrowing.channel && event.channel !== narrowing.channel) return false;
  if (!narrowing.text) return true;
  const row = rowOf(event);
  const haystack = [row?.jobset?.projectName, row?.jobset?.name, row?.job, event.payload].filter(Boolean).join(' ').toLowerCase();
  return narrowing.text
    .toLowerCase()
    .split(/\s+/)
    .every((word) => haystack.includes(word));
}

/** The Stream view. */
export function StreamView({ feed }: { feed: LiveFeed }) {
  useStore(feed);
  const [narrowing, setNarrowing] = useState<Narrowing>({ channel: '', text: '' });
  const [shown, setShown] = useState(PAGE);
  const channels = [...new Set(feed.events.map((e) => e.channel))].filter((c) => c !== 'gap').sort();
  const events = feed.events.filter((e) => matches(e, narrowing));
  const visible = events.slice(Math.max(0, events.length - shown));
  return (
    <div class="stream">
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          channel{' '}
          <select value={narrowing.channel} onChange={(e) => setNarrowing({ ...narrowing, channel: e.currentTarget.value })}>
            <option value="">all</option>
            {channels.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          project, jobset or job{' '}
          <input
            type="search"
            value={narrowing.text}
            placeholder="nixpkgs trunk hello"
            onInput={(e) => setNarrowing({ ...narrowing, text: e.currentTarget.value })}
          />
        </label>
        <span class="muted small">
          {events.length} event(s) received
          {feed.dropped ? `; the ${feed.dropped} oldest dropped (the page keeps ${KEEP}, History has all)` : ''}
        </span>
      </form>
      {feed.failure ? <p class="error">The subscription ended: {feed.failure}. It started over from the last minutes.</p> : null}
      <EventTable events={visible} newestFirst />
      {events.length > visible.length ? (
        <button type="button" onClick={() => setShown(shown + PAGE)}>
          show {Math.min(PAGE, events.length - visible.length)} more
        </button>
      ) : null}
    </div>
  );
}
