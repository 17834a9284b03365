/**
 * The connection's state, always in the header: connected, reconnecting
 * (with the attempt), resumed from cursor N (after a reconnect: the journal
 * position the live feed resumed after), or refused (the token).
 */
import { useEffect, useState } from 'preact/hooks';
import type { Connection, ConnectionState } from '../api/connection';
import { cursorLabel } from '../api/cursor';

function words(state: ConnectionState): { text: string; tone: string; title: string } {
  switch (state.kind) {
    case 'connecting':
      return { text: 'connecting…', tone: 'wait', title: 'opening the WebSocket to /graphql' };
    case 'connected':
      return state.resumedFrom
        ? {
            text: `connected · resumed from cursor ${cursorLabel(state.resumedFrom)}`,
            tone: 'ok',
            title: 'reconnected: everything journaled after that cursor was replayed, then live events',
          }
        : { text: 'connected', tone: 'ok', title: 'live: events arrive as Hydra sends them' };
    case 'reconnecting':
      return { text: `reconnecting… (attempt ${state.attempt})`, tone: 'wait', title: state.reason };
    case 'refused':
      return { text: `refused: ${state.reason}`, tone: 'fail', title: 'enter a valid token' };
  }
}

/** The badge. */
export function ConnectionBadge({ connection }: { connection: Connection }) {
  const [state, setState] = useState(connection.state);
  useEffect(() => connection.onState(setState), [connection]);
  const said = words(state);
  return (
    <span class={`connection ${said.tone}`} role="status" aria-live="polite" title={said.title} data-state={state.kind}>
      <span class="dot" aria-hidden="true" /> {said.text}
    </span>
  );
}
