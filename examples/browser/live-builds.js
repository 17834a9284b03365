/**
 * Live builds in a web page, with nothing but the browser's EventSource.
 *
 * The gateway serves subscriptions over Server-Sent Events on /graphql (GET,
 * `Accept: text/event-stream`, as EventSource sends it). Every event carries
 * `id: <cursor>`; when the stream drops (the gateway restarts, the network),
 * EventSource reconnects by itself and sends the last id as `Last-Event-ID`,
 * and the gateway resumes right after it: nothing lost, nothing twice. The
 * cursor is also saved (localStorage), so a page loaded later starts after
 * the last event it showed (the `after` variable of the first request).
 *
 * EventSource cannot send headers: the token goes as `access_token` in the
 * URL (a read token: it appears in URLs), or none when the gateway allows
 * anonymous reading. The page's origin must be in HNG_CORS_ORIGINS unless the
 * gateway serves the page itself.
 *
 *   import { followBuilds } from './live-builds.js';
 *   const stop = followBuilds({ url: 'http://127.0.0.1:4000/graphql', token, onEvent: render, onState: show });
 */

const QUERY = `subscription LiveBuilds($after: String) {
  events(channels: [BUILD_QUEUED, BUILD_STARTED, BUILD_FINISHED], after: $after) {
    __typename
    cursor
    channel
    receivedAt
    precededByGap { from to }
    ... on GapEvent { from to }
    ... on BuildQueuedEvent { buildId build { job system jobset { name project { name } } } }
    ... on BuildStartedEvent { buildId build { job system jobset { name project { name } } } }
    ... on BuildFinishedEvent { buildId build { job system buildStatus stopTime jobset { name project { name } } } }
  }
}`;

/**
 * Follows queued, started and finished builds; returns a function that stops.
 * @param {object} options
 * @param {string} options.url the gateway's GraphQL endpoint
 * @param {string | null} [options.token] a read token, sent as access_token
 * @param {(event: object) => void} options.onEvent called with each event (`events` of the subscription); a
 *   `GapEvent` (channel "gap") says no gateway listened from `from` to `to`: builds of that window may be missing
 * @param {(state: 'connecting' | 'open' | 'reconnecting' | 'closed', detail?: string) => void} [options.onState]
 * @param {{ getItem(key: string): string | null, setItem(key: string, value: string): void }} [options.storage] where the cursor is kept
 * @param {typeof EventSource} [options.EventSource] the EventSource class (a browser's by default)
 */
export function followBuilds({
  url,
  token = null,
  onEvent,
  onState = () => {},
  storage = globalThis.localStorage,
  EventSource = globalThis.EventSource,
}) {
  const key = `hydra-notify-gateway:cursor:${url}`;
  const params = new URLSearchParams({ query: QUERY, variables: JSON.stringify({ after: storage.getItem(key) }) });
  if (token) params.set('access_token', token);
  onState('connecting');
  const source = new EventSource(`${url}?${params}`);

  source.addEventListener('open', () => onState('open'));
  source.addEventListener('next', (message) => {
    const result = JSON.parse(message.data);
    if (result.errors) {
      // SLOW_CONSUMER and ROW_LOAD_FAILED end the stream; EventSource comes back with Last-Event-ID.
      onState('reconnecting', result.errors.map((e) => e.extensions?.code ?? e.message).join(', '));
      return;
    }
    storage.setItem(key, message.lastEventId);
    onEvent(result.data.events);
  });
  source.addEventListener('error', () => onState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
  return () => {
    source.close();
    onState('closed');
  };
}
