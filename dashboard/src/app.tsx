/**
 * The dashboard's frame: the header (views, connection state, token) and
 * the view the URL's hash names: `#/live` (the default), `#/stream`,
 * `#/history?…`, `#/delivery`.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Connection } from './api/connection';
import { ConnectionBadge } from './connection/ConnectionBadge';
import { TokenForm } from './connection/TokenForm';
import { DeliveryView } from './delivery/DeliveryView';
import { HistoryView } from './history/HistoryView';
import type { LiveFeed } from './live/feed';
import { LiveView } from './live/LiveView';
import { StreamView } from './live/StreamView';

const VIEWS = [
  { path: 'live', label: 'Live' },
  { path: 'stream', label: 'Stream' },
  { path: 'history', label: 'History' },
  { path: 'delivery', label: 'Delivery' },
] as const;

type ViewPath = (typeof VIEWS)[number]['path'];

function route(): { view: ViewPath; query: URLSearchParams } {
  const [path = '', query = ''] = window.location.hash.replace(/^#\/?/, '').split('?');
  const view = VIEWS.find((v) => v.path === path)?.path ?? 'live';
  return { view, query: new URLSearchParams(query) };
}

/** The dashboard. */
export function App({ connection, feed }: { connection: Connection; feed: LiveFeed }) {
  const [where, setWhere] = useState(route);
  useEffect(() => {
    const changed = () => setWhere(route());
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  const label = VIEWS.find((v) => v.path === where.view)!.label;
  useEffect(() => {
    document.title = `${label} · hydra-notify-gateway`;
  }, [label]);

  return (
    <>
      <header>
        <strong class="brand">hydra-notify-gateway</strong>
        <nav>
          {VIEWS.map((v) => (
            <a key={v.path} href={`#/${v.path}`} aria-current={v.path === where.view ? 'page' : undefined}>
              {v.label}
            </a>
          ))}
          <a href="/graphql">GraphiQL</a>
        </nav>
        <ConnectionBadge connection={connection} />
        <TokenForm />
      </header>
      <main>
        {where.view === 'live' ? <LiveView feed={feed} /> : null}
        {where.view === 'stream' ? <StreamView feed={feed} /> : null}
        {where.view === 'history' ? <HistoryView query={where.query} /> : null}
        {where.view === 'delivery' ? <DeliveryView feed={feed} /> : null}
      </main>
    </>
  );
}
