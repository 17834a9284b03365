/**
 * Delivery, for the remediator: the webhooks (state, last failures,
 * redeliver, enable), the consumers with their backlogs, and the pending
 * build_finished backlog (Hydra's column, or a chosen consumer's) with
 * acknowledge.
 *
 * Contract: it reads the gateway when shown, again a moment after each
 * build_finished the live feed brings (coalesced), after each action, and
 * every `REFRESH_MS` (webhook states change without an event, and ages must
 * stay true); never more than one read at a time. A read that fails leaves
 * the last good lists on screen with the reason above them; the webhooks,
 * which need an admin token, fail on their own without hiding the rest.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { BacklogDocument, ConsumersDocument, WebhooksDocument } from '../api/generated';
import { ApiError, run } from '../api/http';
import type { LiveFeed } from '../live/feed';
import { Backlog, type BacklogRow } from './Backlog';
import { type ConsumerRow, Consumers } from './Consumers';
import { type WebhookRow, Webhooks } from './Webhooks';

const REFRESH_MS = 3_000;
const BACKLOG_ROWS = 50;

/** The Delivery view. */
export function DeliveryView({ feed }: { feed: LiveFeed }) {
  const [consumers, setConsumers] = useState<ConsumerRow[]>([]);
  const [chosen, setChosen] = useState('');
  const [backlog, setBacklog] = useState<{ rows: BacklogRow[]; more: boolean; consumer: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [webhooks, setWebhooks] = useState<{ rows: WebhookRow[] | null; error: string | null }>({ rows: null, error: null });
  const reading = useRef<Promise<void> | null>(null);
  const again = useRef(false);
  const chosenNow = useRef(chosen);
  chosenNow.current = chosen;

  const refresh = () => {
    if (reading.current) {
      again.current = true;
      return;
    }
    const consumer = chosenNow.current;
    const denied = (failure: unknown) => failure instanceof ApiError && ['FORBIDDEN', 'UNAUTHENTICATED'].includes(failure.code);
    const hooks = run(WebhooksDocument, {}).then(
      (w) => setWebhooks({ rows: w.webhooks, error: null }),
      (failure: unknown) =>
        setWebhooks((old) => ({
          rows: denied(failure) ? null : old.rows,
          error: denied(failure)
            ? 'Webhooks need an admin token (enter one at the top).'
            : failure instanceof Error
              ? failure.message
              : String(failure),
        })),
    );
    reading.current = Promise.all([
      run(ConsumersDocument, {}),
      run(BacklogDocument, { first: BACKLOG_ROWS, consumer: consumer || undefined }),
      hooks,
    ])
      .then(([c, b]) => {
        setConsumers(c.consumers);
        setBacklog({ rows: b.pendingBuildFinished.edges, more: b.pendingBuildFinished.pageInfo.hasNextPage, consumer });
        setError(null);
      })
      .catch((failure: unknown) => {
        setError(
          failure instanceof ApiError && failure.code === 'FORBIDDEN'
            ? 'Reading a backlog needs a token with the ack scope for it (enter one at the top).'
            : failure instanceof Error
              ? failure.message
              : String(failure),
        );
      })
      .finally(() => {
        reading.current = null;
        if (again.current) {
          again.current = false;
          refresh();
        }
      });
  };

  // The first read is the [chosen] effect's (it runs on mount too).
  useEffect(() => {
    let soon: ReturnType<typeof setTimeout> | null = null;
    const stop = feed.onEvent((event) => {
      if (event.__typename === 'BuildFinishedEvent') soon ??= setTimeout(() => ((soon = null), refresh()), 1_000);
    });
    const every = setInterval(refresh, REFRESH_MS);
    return () => {
      stop();
      clearInterval(every);
      if (soon) clearTimeout(soon);
    };
  }, [feed]);

  useEffect(refresh, [chosen]);

  return (
    <div class="delivery">
      {error ? <p class="error">{error}</p> : null}
      <section>
        <h2>Webhooks</h2>
        {webhooks.rows && webhooks.error ? <p class="error">{webhooks.error}</p> : null}
        <Webhooks webhooks={webhooks.rows} error={webhooks.error} changed={refresh} />
      </section>
      <section>
        <h2>Consumers</h2>
        <Consumers consumers={consumers} chosen={chosen} choose={setChosen} />
      </section>
      <section>
        <h2>
          Pending build_finished{' '}
          <select aria-label="backlog of" value={chosen} onChange={(e) => setChosen(e.currentTarget.value)}>
            <option value="">Hydra's column (notificationpendingsince)</option>
            {consumers.map((c) => (
              <option key={c.name} value={c.name}>
                consumer {c.name}
              </option>
            ))}
          </select>
        </h2>
        {backlog && backlog.consumer === chosen ? (
          <Backlog rows={backlog.rows} more={backlog.more} consumer={chosen} changed={refresh} />
        ) : (
          <p class="muted">Loading…</p>
        )}
      </section>
    </div>
  );
}
