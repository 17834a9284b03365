/**
 * The consumers: each with its backlog (occurrences not acknowledged), the
 * age of its oldest, and whether it is paused. Choosing one shows its own
 * pending set in the backlog below.
 */
import type { ConsumersQuery } from '../api/generated';
import { age, time } from '../format';

/** One consumer as the gateway lists it. */
export type ConsumerRow = ConsumersQuery['consumers'][number];

/** The consumers table; `chosen` is the consumer whose backlog is shown ('' for Hydra's column). */
export function Consumers({ consumers, chosen, choose }: { consumers: ConsumerRow[]; chosen: string; choose: (name: string) => void }) {
  if (consumers.length === 0)
    return <p class="muted">No consumer yet. A service that must not miss a finish makes one with createConsumer (see GraphiQL).</p>;
  return (
    <table class="consumers">
      <thead>
        <tr>
          <th>consumer</th>
          <th>state</th>
          <th>backlog</th>
          <th>oldest pending</th>
          <th>created</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {consumers.map((c) => (
          <tr key={c.name} data-consumer={c.name} class={c.name === chosen ? 'chosen' : ''}>
            <td>
              <strong>{c.name}</strong>
            </td>
            <td>{c.paused ? <span class="badge">paused</span> : <span class="badge ok">active</span>}</td>
            <td class="backlog">{c.pending}</td>
            <td title={c.oldestPendingSince ?? ''}>{c.oldestPendingSince ? `${age(c.oldestPendingSince)} ago` : '—'}</td>
            <td class="muted small">{time(c.createdAt)}</td>
            <td>
              <button type="button" disabled={c.name === chosen} onClick={() => choose(c.name)}>
                show backlog
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
