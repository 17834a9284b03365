/**
 * The webhooks, for the remediator: each with its state (active, failing
 * since when, or disabled with the reason), its backlog and dead
 * deliveries, the last attempt's answer, and its last failures (then its
 * newest deliveries), each with a Redeliver button; a disabled webhook has
 * an Enable button.
 *
 * Contract: reading them needs an admin token; without one the panel says
 * so and the rest of the Delivery view works. Redeliver makes a delivery
 * pending again with the same webhook-id (`redeliverWebhook`), Enable
 * resumes a webhook where it stopped (`enableWebhook`); after either the
 * caller refreshes.
 */
import { useState } from 'preact/hooks';
import { EnableWebhookDocument, RedeliverWebhookDocument, type WebhookDeliverySummaryFragment, type WebhooksQuery } from '../api/generated';
import { ApiError, run } from '../api/http';
import { age, time } from '../format';

/** One webhook as the gateway lists it. */
export type WebhookRow = WebhooksQuery['webhooks'][number];

/** Whether a delivery's last attempt failed (what "last failures" lists). */
function failed(delivery: WebhookDeliverySummaryFragment): boolean {
  return delivery.state === 'DEAD' || (delivery.lastError !== null && delivery.state !== 'DELIVERED');
}

/**
 * The deliveries a webhook's table lists: its last failures first (dead
 * ones, and failing ones among the newest), newest first, then the newest
 * others; each once.
 */
export function deliveriesShown(webhook: WebhookRow): WebhookDeliverySummaryFragment[] {
  const all = [...webhook.recent.edges, ...webhook.deadOnes.edges].map((edge) => edge.node);
  const unique = [...new Map(all.map((d) => [d.id, d])).values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return [...unique.filter(failed), ...unique.filter((d) => !failed(d))];
}

function explain(error: unknown): string {
  if (error instanceof ApiError && (error.code === 'FORBIDDEN' || error.code === 'UNAUTHENTICATED'))
    return 'needs an admin token (enter one at the top)';
  return error instanceof Error ? error.message : String(error);
}

function State({ webhook }: { webhook: WebhookRow }) {
  if (webhook.state === 'DISABLED') return <span class="badge fail">disabled</span>;
  if (webhook.failingSince) return <span class="badge fail">failing for {age(webhook.failingSince)}</span>;
  return <span class="badge ok">active</span>;
}

/** What a person should read first about a webhook that does not deliver. */
function reason(webhook: WebhookRow): string | null {
  if (webhook.state === 'DISABLED') return webhook.disabledReason ?? 'disabled';
  if (webhook.failingSince && webhook.lastAttempt) {
    const { status, error } = webhook.lastAttempt;
    return `last attempt ${time(webhook.lastAttempt.at)}: ${error ?? `HTTP ${status}`}`;
  }
  return null;
}

function Delivery({
  delivery,
  active,
  redeliver,
}: {
  delivery: WebhookDeliverySummaryFragment;
  /** Whether its webhook delivers (a disabled one makes no next attempt). */
  active: boolean;
  redeliver: (id: string) => void;
}) {
  return (
    <tr data-delivery-id={delivery.id} data-msg-id={delivery.msgId} class={failed(delivery) ? 'failed' : ''}>
      <td>
        <code>{delivery.event}</code>
        {delivery.buildId !== null ? <span class="muted small"> build {delivery.buildId}</span> : null}
      </td>
      <td>
        <span class={`badge ${delivery.state === 'DELIVERED' ? 'ok' : 'fail'}`}>{delivery.state.toLowerCase()}</span>
      </td>
      <td>{delivery.attempts}</td>
      <td class="reason">{delivery.lastError ?? (delivery.lastStatus !== null ? `HTTP ${delivery.lastStatus}` : '')}</td>
      <td class="muted small">
        {delivery.state === 'PENDING' && delivery.nextAttemptAt && active
          ? `next attempt ${time(delivery.nextAttemptAt)}`
          : delivery.deliveredAt
            ? `delivered ${time(delivery.deliveredAt)}`
            : time(delivery.createdAt)}
      </td>
      <td>
        <button type="button" onClick={() => redeliver(delivery.id)}>
          Redeliver
        </button>
      </td>
    </tr>
  );
}

/** The webhooks panel; `webhooks` is null when they could not be read (`error` says why). */
export function Webhooks({ webhooks, error, changed }: { webhooks: WebhookRow[] | null; error: string | null; changed: () => void }) {
  const [said, setSaid] = useState<{ text: string; error: boolean } | null>(null);
  const act = async (what: () => Promise<string>) => {
    try {
      setSaid({ text: await what(), error: false });
    } catch (failure) {
      setSaid({ text: explain(failure), error: true });
    }
    changed();
  };
  const redeliver = (id: string) =>
    void act(async () => {
      await run(RedeliverWebhookDocument, { id });
      return `delivery ${id} is pending again (same webhook-id)`;
    });
  const enable = (name: string) =>
    void act(async () => {
      await run(EnableWebhookDocument, { name });
      return `webhook ${name} enabled: it resumes where it stopped`;
    });

  if (webhooks === null) return <p class="muted">{error ?? 'Loading…'}</p>;
  if (webhooks.length === 0)
    return <p class="muted">No webhook yet (createWebhook in GraphiQL, or hydra-notify-gateway webhooks create).</p>;
  return (
    <div class="webhooks">
      {said ? <p class={said.error ? 'error' : 'ok'}>{said.text}</p> : null}
      {webhooks.map((webhook) => {
        const deliveries = deliveriesShown(webhook);
        const failures = deliveries.filter(failed).length;
        const why = reason(webhook);
        return (
          <section key={webhook.name} class="webhook" data-webhook={webhook.name}>
            <h3>
              {webhook.name} <State webhook={webhook} />{' '}
              <span class="muted small">
                {webhook.kind === 'COMMIT_STATUS' ? 'commit statuses' : 'HTTP'} → {webhook.url}
                {webhook.consumer ? ` · consumer ${webhook.consumer}` : ''}
              </span>
              {webhook.state === 'DISABLED' ? (
                <button type="button" onClick={() => enable(webhook.name)}>
                  Enable
                </button>
              ) : null}
            </h3>
            {why ? <p class="error reason">{why}</p> : null}
            <p class="small">
              backlog <strong class="backlog">{webhook.backlog}</strong>
              {webhook.oldestPendingAt ? ` (oldest ${age(webhook.oldestPendingAt)} ago)` : ''} · dead <strong>{webhook.dead}</strong>
              {webhook.lastAttempt ? (
                <span class="muted">
                  {' '}
                  · last attempt {time(webhook.lastAttempt.at)}: {webhook.lastAttempt.error ?? `HTTP ${webhook.lastAttempt.status}`}
                </span>
              ) : null}
            </p>
            {deliveries.length ? (
              <table class="deliveries">
                <thead>
                  <tr>
                    <th>{failures ? `last failures (${failures}), then the newest deliveries` : 'newest deliveries'}</th>
                    <th>state</th>
                    <th>attempts</th>
                    <th>why</th>
                    <th />
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {deliveries.map((delivery) => (
                    <Delivery key={delivery.id} delivery={delivery} active={webhook.state === 'ACTIVE'} redeliver={redeliver} />
                  ))}
                </tbody>
              </table>
            ) : null}
          </section>
        );
      })}
    </div>
  );
}
