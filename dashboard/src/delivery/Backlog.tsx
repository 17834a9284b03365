/**
 * The pending build_finished backlog, oldest first: Hydra's own column
 * (`notificationpendingsince`), or one consumer's pending set, with an
 * Acknowledge button on each row (and Redeliver for a consumer's).
 *
 * Contract: Acknowledge sends the row's `pendingSince` back
 * (compare-and-set): ACKNOWLEDGED removes the row; STALE says that the
 * build finished again since, and the newer finish shows on the refresh;
 * a token without `ack` gets FORBIDDEN, said as "needs a token with the ack
 * scope". The caller refreshes the list after every outcome.
 */
import { useState } from 'preact/hooks';
import { AcknowledgeDocument, type BacklogQuery, RedeliverToConsumerDocument } from '../api/generated';
import { ApiError, run } from '../api/http';
import { age, statusLabel, time } from '../format';

/** One pending occurrence. */
export type BacklogRow = BacklogQuery['pendingBuildFinished']['edges'][number];

const OUTCOME_WORDS: Record<string, string> = {
  ACKNOWLEDGED: 'acknowledged',
  ALREADY_ACKNOWLEDGED: 'was acknowledged already',
  STALE: 'finished again since: the newer finish is pending now',
  NOT_FINISHED: 'is not finished any more (restarted)',
  NOT_PENDING: 'was never pending for this consumer',
};

function explain(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'FORBIDDEN') return 'needs a token with the ack scope (enter one at the top)';
    if (error.code === 'UNAUTHENTICATED') return 'needs a valid token (enter one at the top)';
    if (error.code === 'OBSERVER_MODE') return "this gateway never clears Hydra's column (observer mode): acknowledge per consumer";
    return `${error.message} (${error.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** The backlog of `consumer` ('' for Hydra's column). */
export function Backlog({ rows, more, consumer, changed }: { rows: BacklogRow[]; more: boolean; consumer: string; changed: () => void }) {
  const [said, setSaid] = useState<Record<string, { text: string; error: boolean }>>({});
  const key = (row: BacklogRow) => `${row.node.id}@${row.pendingSince}`;
  const tell = (row: BacklogRow, text: string, error = false) => setSaid((s) => ({ ...s, [key(row)]: { text, error } }));

  const acknowledge = async (row: BacklogRow) => {
    try {
      const result = await run(AcknowledgeDocument, {
        buildId: row.node.id,
        pendingSince: row.pendingSince,
        consumer: consumer || undefined,
      });
      tell(
        row,
        `build ${row.node.id} ${OUTCOME_WORDS[result.acknowledgeBuildFinished.outcome] ?? result.acknowledgeBuildFinished.outcome}`,
      );
    } catch (error) {
      tell(row, explain(error), true);
    }
    changed();
  };
  const redeliver = async (row: BacklogRow) => {
    try {
      await run(RedeliverToConsumerDocument, { consumer, buildId: row.node.id });
      tell(row, `build ${row.node.id} delivered again to ${consumer}'s next subscriber`);
    } catch (error) {
      tell(row, explain(error), true);
    }
    changed();
  };

  const messages = Object.entries(said);
  return (
    <div class="backlog">
      {messages.length ? (
        <ul class="messages">
          {messages.slice(-3).map(([k, m]) => (
            <li key={k} class={m.error ? 'error' : 'ok'}>
              {m.text}
            </li>
          ))}
        </ul>
      ) : null}
      {rows.length === 0 ? (
        <p class="muted">Nothing pending: every finished build has been acknowledged.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>build</th>
              <th>job</th>
              <th>status</th>
              <th>pending since</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const status = statusLabel(row.node.buildStatus, row.node.buildStatusCode);
              return (
                <tr key={key(row)} data-build-id={row.node.id}>
                  <td>#{row.node.id}</td>
                  <td>
                    {row.node.job}{' '}
                    <span class="muted small">{row.node.jobset ? `${row.node.jobset.projectName}/${row.node.jobset.name}` : ''}</span>
                  </td>
                  <td>
                    <span class={`badge ${status.ok ? 'ok' : 'fail'}`}>{status.text}</span>
                  </td>
                  <td title={row.pendingSince}>
                    {time(row.pendingSince)} <span class="muted small">({age(row.pendingSince)} ago)</span>
                  </td>
                  <td class="actions">
                    <button type="button" onClick={() => void acknowledge(row)}>
                      Acknowledge
                    </button>
                    {consumer ? (
                      <button type="button" onClick={() => void redeliver(row)}>
                        Redeliver
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {more ? <p class="muted small">More are pending than shown; acknowledge these to see the next.</p> : null}
    </div>
  );
}
