/**
 * The webhook worker: on every instance, it leases the active webhooks no
 * other living instance holds, turns what each one has to deliver into
 * deliveries (durable rows), and attempts them.
 *
 * Contract:
 * - Exactly one instance delivers a webhook at a time: the lease
 *   (queries/webhooks.ts) is renewed every `tickMs` for `leaseMs`, and an
 *   attempt starts only while at least `timeoutMs` + `LEASE_MARGIN_MS` of
 *   it is left, so an attempt always ends before another instance can take
 *   the webhook over; one that dies mid-request leaves its delivery pending,
 *   and the next holder sends it again with the same `webhook-id` once the
 *   lease has expired.
 * - Enqueuing reads the journal after the webhook's cursor through what the
 *   live pipeline has settled (so a split build_finished is whole), filters
 *   and renders each event, and inserts the deliveries in one transaction
 *   with the cursor's compare-and-set: a crash or a lost lease leaves both
 *   unchanged, and an event enqueued twice is one delivery (its message id).
 *   The rows a page's events render with are read once for the page. Gaps become gap deliveries; events retention pruned before the webhook
 *   read them become one gap delivery saying so. A consumer-bound webhook
 *   reads its consumer's unacknowledged occurrences instead, and a 2xx
 *   acknowledges the occurrence (compare-and-set, the outcome logged). At
 *   most `maxQueued` deliveries wait per webhook: beyond, the journal is the
 *   queue.
 * - Attempts follow the webhook's ordering (deliveries.ts), at most its
 *   `concurrency` (one for `webhook` ordering) and `concurrency` in all on
 *   this instance. A webhook whose document no longer compiles (the schema
 *   changed) is disabled with the compiler's words. A failure is retried on the schedule (schedule.ts), or
 *   when the endpoint asked; after the last attempt, or at once for an
 *   answer retrying cannot change, the delivery is dead. A webhook whose
 *   every attempt failed for `disableAfterMs` is disabled with the reason.
 * - `hint()` (new events) runs a round soon, `changed()` (a change on any
 *   instance) one that reads the webhooks' rows again first;
 *   rounds never overlap. `stop()` waits for the attempts under way (each
 *   bounded by `timeoutMs`), records them, and gives up the leases.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { WEBHOOK_CHANNEL, notifyInternal } from '../db/channels.js';
import { inTransaction } from '../db/transaction.js';
import { type ConsumerService, occurrenceDelivery } from '../consumers/service.js';
import { type GatewayEvent, isGap } from '../events/event.js';
import { matches } from '../events/filter.js';
import { History } from '../events/history.js';
import { createLoaders } from '../hydra/loaders.js';
import { encodeCursor } from '../journal/cursor.js';
import { recorderState } from '../journal/queries/recorder.js';
import { GatewayError } from '../errors.js';
import type { Log } from '../log.js';
import type { CompileSubscription, SubscriptionPlan } from './plan.js';
import {
  type DeliveryRow,
  type DueDelivery,
  dueDeliveries,
  dueInOrder,
  insertDeliveries,
  type NewDelivery,
  pendingCount,
  recordAttempt,
} from './queries/deliveries.js';
import { unsentOccurrences } from './queries/occurrences.js';
import { advanceCursor, leaseWebhooks, releaseWebhooks, setWebhookState, type WebhookRow } from './queries/webhooks.js';
import { retryDelay } from './schedule.js';
import { type Attempt, send } from './send.js';
import { signatureHeaders } from './sign.js';
import { type ReporterOptions, STATUS_CHANNELS, statusRequests } from './status/reporter.js';

/** How much of the lease must be left beyond the request timeout for an attempt to start. */
export const LEASE_MARGIN_MS = 2_000;
/** Events enqueued per webhook per round. */
const BATCH = 200;
/** Rounds are at least this far apart (a burst of events makes one round per batch, not one per event). */
const ROUND_GAP_MS = 10;
/** Deliveries read at once for a webhook delivered in order (attempted one after the other). */
const IN_ORDER_BATCH = 50;

/** How the worker delivers (the `HNG_WEBHOOK_*` settings). */
export interface WebhookSettings {
  /** Delays before attempts 2, 3, …; after the last, a delivery is dead. */
  schedule: readonly number[];
  /** The deadline of one request. */
  timeoutMs: number;
  /** How long every attempt may fail before the webhook is disabled. */
  disableAfterMs: number;
  /** Attempts at once on this instance, all webhooks together. */
  concurrency: number;
  /** How long a lease lasts; renewed every `tickMs`. */
  leaseMs: number;
  /** How often leases are renewed and due deliveries looked for. */
  tickMs: number;
  /** Deliveries waiting per webhook before it stops reading ahead. */
  maxQueued: number;
  /** The longest wait an endpoint may ask for (Retry-After). */
  maxAskedDelayMs: number;
}

/** The defaults of `WebhookSettings` (the README's configuration table gives the same). */
export const DEFAULT_WEBHOOK_SETTINGS: Omit<WebhookSettings, 'schedule'> = {
  timeoutMs: 10_000,
  disableAfterMs: 5 * 86_400_000,
  concurrency: 32,
  leaseMs: 30_000,
  tickMs: 1_000,
  maxQueued: 1_000,
  maxAskedDelayMs: 3_600_000,
};

/** What became of one attempt, for the metrics. */
export type AttemptOutcome = 'delivered' | 'retry' | 'dead';

/** What the worker needs. */
export interface WorkerOptions {
  pool: pg.Pool;
  consumers: ConsumerService;
  compile: CompileSubscription;
  /** This instance's name (the lease owner and the log's `instance`). */
  instance: string;
  log: Log;
  /** Every journal event up to this position has been settled by the live pipeline. */
  published: () => number;
  settings: WebhookSettings;
  /** Told every attempt's outcome. */
  onAttempt?: (webhook: string, outcome: AttemptOutcome, latencyMs: number) => void;
}

type Outcome = { kind: 'delivered' } | { kind: 'retry'; at: Date } | { kind: 'dead' };

/** What one attempt found, before it is recorded. */
interface Made {
  startedAt: Date;
  sent: Attempt;
  number: number;
  error: string | null;
  outcome: Outcome;
}

interface Held {
  row: WebhookRow;
  plan: SubscriptionPlan | null;
  planKey: string;
  inFlight: Set<number>;
  fetching: boolean;
  again: boolean;
}

/** The deliveries of the webhooks this instance holds; see the module contract. */
export class WebhookWorker {
  private readonly held = new Map<number, Held>();
  private readonly attempts = new Set<Promise<void>>();
  private inFlight = 0;
  private leasedAt = -Infinity;
  private leaseValidUntil = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private pending: NodeJS.Timeout | null = null;
  private lastRound = -Infinity;
  private again = false;
  private stopped = false;

  constructor(private readonly options: WorkerOptions) {}

  /** The webhooks this instance delivers now, by name. */
  get delivering(): string[] {
    return [...this.held.values()].map((h) => h.row.name).sort();
  }

  /** Starts the rounds. */
  start(): void {
    this.timer = setInterval(() => this.hint(), this.options.settings.tickMs);
    this.timer.unref();
    this.hint();
  }

  /** Runs a round soon: coalesced with one under way, and at most one every `ROUND_GAP_MS`. */
  hint(): void {
    if (this.stopped) return;
    if (this.round || this.pending) {
      this.again = true;
      return;
    }
    const wait = this.lastRound + ROUND_GAP_MS - performance.now();
    if (wait > 0) {
      this.pending = setTimeout(() => {
        this.pending = null;
        this.hint();
      }, wait);
      return;
    }
    this.lastRound = performance.now();
    this.round = this.runRound().finally(() => {
      this.round = null;
      if (this.again) {
        this.again = false;
        this.hint();
      }
    });
  }

  /** A webhook changed (on any instance): its row is read again, and a round runs soon. */
  changed(): void {
    this.leasedAt = -Infinity;
    this.hint();
  }

  /** Stops: waits for the attempts under way, then gives up the leases. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    await this.round;
    await Promise.allSettled([...this.attempts]);
    this.held.clear();
    await releaseWebhooks(this.options.pool, this.options.instance).catch((error: Error) =>
      this.options.log.warn('could not release the webhook leases', { error: error.message }),
    );
  }

  private async runRound(): Promise<void> {
    try {
      await this.renew();
      for (const held of this.held.values()) {
        if (this.stopped) return;
        try {
          await this.enqueue(held);
        } catch (error) {
          if (error instanceof GatewayError && error.code === 'BAD_USER_INPUT') {
            // Its document no longer compiles (the schema changed under it): say so, do not spin.
            await this.disable(held, `its subscription no longer compiles against this gateway's schema: ${error.message}`);
            continue;
          }
          this.options.log.warn('could not enqueue webhook deliveries', { webhook: held.row.name, error: (error as Error).message });
          this.leasedAt = -Infinity;
        }
        this.dispatch(held);
      }
    } catch (error) {
      this.options.log.warn('webhook round failed', { error: (error as Error).message });
    }
  }

  /** Renews the leases when a tick has passed, and takes the free ones. */
  private async renew(): Promise<void> {
    const { pool, instance, settings } = this.options;
    const started = performance.now();
    if (started - this.leasedAt < settings.tickMs) return;
    const rows = await leaseWebhooks(pool, instance, settings.leaseMs);
    this.leasedAt = started;
    this.leaseValidUntil = started + settings.leaseMs;
    const seen = new Set<number>();
    for (const row of rows) {
      seen.add(row.id);
      const held = this.held.get(row.id);
      if (held) held.row = row;
      else {
        this.held.set(row.id, { row, plan: null, planKey: '', inFlight: new Set(), fetching: false, again: false });
        this.options.log.info('delivering webhook', { webhook: row.name });
      }
    }
    for (const [id, held] of this.held) {
      if (seen.has(id)) continue;
      // Disabled, removed, or (after a stall) taken over: its attempts under way end on their own.
      this.held.delete(id);
      this.options.log.info('no longer delivering webhook', { webhook: held.row.name });
    }
  }

  private planOf(held: Held): SubscriptionPlan | null {
    if (held.row.kind !== 'http') return null;
    const key = `${held.row.document}\u0000${JSON.stringify(held.row.variables)}`;
    if (held.planKey !== key || !held.plan) {
      held.plan = this.options.compile(held.row.document, held.row.variables);
      held.planKey = key;
    }
    return held.plan;
  }

  private async enqueue(held: Held): Promise<void> {
    const { pool, settings } = this.options;
    const { row } = held;
    const plan = this.planOf(held);
    if (row.consumer !== null) return this.enqueueOccurrences(held, plan!);
    const through = this.options.published();
    if (row.cursor >= through) return;
    if ((await pendingCount(pool, row.id)) >= settings.maxQueued) return;
    const items: NewDelivery[] = [];
    let from = row.cursor;
    const { prunedThrough } = await recorderState(pool);
    if (from < prunedThrough) {
      if (row.kind === 'http') {
        items.push(
          this.delivery(row, {
            key: `pruned_${from}`,
            eventType: 'gap',
            position: prunedThrough,
            body: {
              gap: {
                from: null,
                to: null,
                reason: `retention pruned the events after ${encodeCursor(from)} before this webhook delivered them`,
              },
            },
          }),
        );
      }
      from = prunedThrough;
    }
    const channels = row.kind === 'http' ? plan!.channels.filter((c) => c !== 'gap') : STATUS_CHANNELS;
    const history = new History(pool, { after: from, channels });
    let events = 0;
    for (;;) {
      const page = await history.next(through);
      const ready = page.full ? page.events : [...page.events, ...history.finish()];
      // Rendered side by side (the page's events share one loader set, events/history.ts, so its
      // rows load in one batch per table), kept in journal order.
      for (const made of await Promise.all(ready.map((event) => this.deliveriesOf(row, plan, event)))) items.push(...made);
      events += ready.length;
      if (!page.full || events >= BATCH) break;
    }
    // A build_finished whose chunks are not all read yet is read again, whole, next round.
    const open = history.openFrom;
    const to = open === null ? history.position : open - 1;
    if (to <= row.cursor) return;
    await inTransaction(pool, async (tx) => {
      await insertDeliveries(tx, row.id, items);
      if (!(await advanceCursor(tx, row.id, row.cursor, to, this.options.instance)))
        throw new Error('the webhook moved meanwhile (lease lost or cursor rewound)');
    });
    row.cursor = to;
    if (events >= BATCH) this.again = true;
  }

  private async enqueueOccurrences(held: Held, plan: SubscriptionPlan): Promise<void> {
    const { pool, settings } = this.options;
    const { row } = held;
    const room = settings.maxQueued - (await pendingCount(pool, row.id));
    if (room <= 0) return;
    const unsent = await unsentOccurrences(pool, row.id, row.consumer!, Math.min(room, BATCH));
    // Rendered side by side with one loader set for the batch (its rows load in one batch per
    // table), kept in order.
    const loaders = createLoaders(pool);
    const items: NewDelivery[] = await Promise.all(
      unsent.map(async (occurrence) => {
        // Its count is this delivery's (the body is the same on every attempt).
        const delivery = occurrenceDelivery(pool, row.consumer!, { ...occurrence, deliveries: occurrence.deliveries + 1 }, loaders);
        return {
          ...this.delivery(row, {
            key: `b${occurrence.buildId}_${occurrence.pendingSince}`,
            eventType: plan.field,
            position: occurrence.journalPosition,
            body: await this.render(plan, delivery.kind === 'event' ? delivery.event : null),
          }),
          buildId: occurrence.buildId,
          occurrenceSince: occurrence.pendingSince,
        };
      }),
    );
    await insertDeliveries(pool, row.id, items);
    if (unsent.length === BATCH) this.again = true;
  }

  private async deliveriesOf(row: WebhookRow, plan: SubscriptionPlan | null, event: GatewayEvent): Promise<NewDelivery[]> {
    if (row.kind === 'commit-status') {
      if (isGap(event)) return [];
      const requests = await statusRequests(this.options.pool, row.url, row.options as unknown as ReporterOptions, event);
      return requests.map((request) => ({
        msgId: this.msgId(row, `${event.position}_${createHash('sha256').update(request.key).digest('hex').slice(0, 12)}`),
        eventType: event.channel,
        position: event.position,
        buildId: request.buildId,
        occurrenceSince: null,
        url: request.url,
        body: request.body,
      }));
    }
    if (isGap(event)) {
      const { from, to } = event.notice;
      return [
        this.delivery(row, {
          key: String(event.position),
          eventType: 'gap',
          position: event.position,
          body: { gap: { from, to, reason: 'no gateway instance listened: notifications sent then are lost' } },
        }),
      ];
    }
    if (!(await matches(event, plan!.filter))) return [];
    const buildId = 'buildId' in event.notice ? event.notice.buildId : null;
    return [
      {
        ...this.delivery(row, {
          key: String(event.position),
          eventType: plan!.field,
          position: event.position,
          body: await this.render(plan!, event),
        }),
        buildId,
      },
    ];
  }

  private async render(plan: SubscriptionPlan, event: GatewayEvent | null): Promise<unknown> {
    if (!event) return null;
    const { data, errors } = await plan.render({ kind: 'event', event, gapBefore: null, replayed: true });
    return errors.length > 0 ? { ...(data as object), errors } : data;
  }

  private msgId(row: WebhookRow, key: string): string {
    return `msg_${row.id}_${key}${row.generation > 0 ? `_g${row.generation}` : ''}`;
  }

  private delivery(row: WebhookRow, d: { key: string; eventType: string; position: number | null; body: unknown }): NewDelivery {
    return {
      msgId: this.msgId(row, d.key),
      eventType: d.eventType,
      position: d.position,
      buildId: null,
      occurrenceSince: null,
      url: row.url,
      body: JSON.stringify(d.body),
    };
  }

  /** Starts the attempts the webhook's ordering and the concurrency bounds allow. */
  private dispatch(held: Held): void {
    if (this.stopped || !this.held.has(held.row.id)) return;
    if (held.fetching) {
      held.again = true;
      return;
    }
    const { settings, pool } = this.options;
    const inOrder = held.row.ordering === 'webhook';
    const own = (inOrder ? 1 : held.row.concurrency) - held.inFlight.size;
    const room = Math.min(own, settings.concurrency - this.inFlight);
    if (room <= 0 || !this.leaseAllowsAttempt()) return;
    held.fetching = true;
    const due = inOrder ? dueInOrder(pool, held.row.id, IN_ORDER_BATCH) : dueDeliveries(pool, held.row.id, [...held.inFlight], room);
    due
      .then((rows) => {
        if (rows.length === 0) return;
        // In order: one after the other, until one is not delivered (its retry holds the rest back).
        if (inOrder) this.track(this.chain(held, rows));
        else for (const delivery of rows) this.track(this.chain(held, [delivery]));
      })
      .catch((error: Error) =>
        this.options.log.warn('could not read due webhook deliveries', { webhook: held.row.name, error: error.message }),
      )
      .finally(() => {
        held.fetching = false;
        if (held.again) {
          held.again = false;
          this.dispatch(held);
        }
      });
  }

  /** Whether an attempt started now ends before the lease could pass to another instance. */
  private leaseAllowsAttempt(): boolean {
    return this.leaseValidUntil - performance.now() >= this.options.settings.timeoutMs + LEASE_MARGIN_MS;
  }

  private track(attempt: Promise<void>): void {
    this.attempts.add(attempt);
    void attempt.finally(() => this.attempts.delete(attempt));
  }

  /**
   * Attempts `deliveries` one after the other while each is delivered; then
   * looks for more. The record of one attempt is written while the next
   * request is under way (one record in flight at most, in order): a crash
   * between the two sends the unrecorded ones again, in order, with their ids.
   */
  private async chain(held: Held, deliveries: readonly DueDelivery[]): Promise<void> {
    const slot = deliveries[0]!.id;
    held.inFlight.add(slot);
    this.inFlight += 1;
    let recording: Promise<void> = Promise.resolve();
    try {
      for (const delivery of deliveries) {
        if (this.stopped || !this.held.has(held.row.id) || !this.leaseAllowsAttempt()) break;
        const attempt = await this.attempt(held, delivery);
        await recording;
        recording = this.record(held, delivery, attempt);
        if (attempt.outcome.kind !== 'delivered') break;
      }
      await recording;
    } finally {
      held.inFlight.delete(slot);
      // Others waited only if every slot of the instance was taken (their own room is theirs).
      const othersWaited = this.inFlight >= this.options.settings.concurrency;
      this.inFlight -= 1;
      // The next ones of this webhook at once; and the others, if they waited for this slot.
      this.dispatch(held);
      if (othersWaited) for (const other of this.held.values()) if (other !== held) this.dispatch(other);
      // Room was made: what the journal holds beyond the queued deliveries comes next.
      if (held.row.consumer !== null || held.row.cursor < this.options.published()) this.hint();
    }
  }

  /** One attempt of one delivery (and, bound to a consumer, the acknowledgement of its 2xx): what it found. */
  private async attempt(held: Held, delivery: DueDelivery): Promise<Made> {
    const { settings } = this.options;
    const { row } = held;
    const startedAt = new Date();
    const sent = await send(delivery.url, this.headersOf(row, delivery, startedAt), delivery.body, settings.timeoutMs);
    const number = delivery.attempts + 1;
    let { error } = sent;
    let outcome: Outcome;
    if (sent.status !== null && sent.status >= 200 && sent.status < 300) {
      outcome = { kind: 'delivered' };
      if (row.consumer !== null && delivery.buildId !== null && delivery.occurrenceSince !== null) {
        try {
          const [result] = await this.options.consumers.acknowledge(row.consumer, [
            { buildId: delivery.buildId, pendingSince: new Date(delivery.occurrenceSince * 1_000) },
          ]);
          if (result && result.outcome !== 'ACKNOWLEDGED') error = `delivered; acknowledgement for ${row.consumer}: ${result.outcome}`;
        } catch (ackError) {
          error = `delivered, but acknowledging it for ${row.consumer} failed: ${(ackError as Error).message}`;
          outcome = this.retryOutcome(sent, number, row.kind, true);
        }
      }
    } else outcome = this.retryOutcome(sent, number, row.kind, false);
    return { startedAt, sent, number, error, outcome };
  }

  /** Writes an attempt to the log, settles its delivery, and keeps the webhook's health. */
  private async record(held: Held, delivery: DeliveryRow, made: Made): Promise<void> {
    const { pool, log, instance } = this.options;
    const { row } = held;
    const { startedAt, sent, number, error, outcome } = made;
    try {
      const failingSince = await recordAttempt(
        pool,
        delivery,
        { attempt: number, instance, startedAt, status: sent.status, latencyMs: sent.latencyMs, error, responseBody: sent.responseBody },
        outcome,
      );
      this.options.onAttempt?.(row.name, outcome.kind, sent.latencyMs);
      if (outcome.kind === 'dead')
        log.warn('webhook delivery is dead', { webhook: row.name, delivery: delivery.id, attempts: number, error });
      await this.health(held, failingSince, error);
    } catch (recordError) {
      // Unrecorded, it stays pending: the next holder sends it again, with its id.
      log.warn('could not record a webhook attempt', { webhook: row.name, delivery: delivery.id, error: (recordError as Error).message });
    }
  }

  private retryOutcome(
    sent: Attempt,
    number: number,
    kind: WebhookRow['kind'],
    force: boolean,
  ): { kind: 'retry'; at: Date } | { kind: 'dead' } {
    if (!force && isPermanent(kind, sent.status)) return { kind: 'dead' };
    const { schedule, maxAskedDelayMs } = this.options.settings;
    const delay = retryDelay(schedule, number);
    if (delay === null) return { kind: 'dead' };
    const asked = sent.askedDelayMs === null ? null : Math.min(sent.askedDelayMs, maxAskedDelayMs);
    return { kind: 'retry', at: new Date(Date.now() + (asked ?? delay)) };
  }

  /** Disables the webhook once every attempt failed for `disableAfterMs`. */
  private async health(held: Held, failingSince: Date | null, lastError: string | null): Promise<void> {
    const { settings } = this.options;
    const { row } = held;
    row.failingSince = failingSince;
    if (failingSince === null || Date.now() - failingSince.getTime() < settings.disableAfterMs) return;
    const reason = `every delivery attempt failed since ${failingSince.toISOString()} (more than ${Math.round(settings.disableAfterMs / 1_000)} s); the last: ${lastError ?? 'unknown'}`;
    await this.disable(held, reason);
  }

  /** Disables a webhook this instance delivers, with the reason shown. */
  private async disable(held: Held, reason: string): Promise<void> {
    const { pool, log } = this.options;
    await setWebhookState(pool, held.row.name, 'disabled', reason);
    await notifyInternal(pool, WEBHOOK_CHANNEL, held.row.name);
    this.held.delete(held.row.id);
    log.warn('webhook disabled', { webhook: held.row.name, reason });
  }

  /** Signed with the secrets (a reporter: authorized with the token) its webhook held when the delivery was read. */
  private headersOf(row: WebhookRow, delivery: DueDelivery, at: Date): Record<string, string> {
    if (row.kind === 'commit-status') {
      const options = delivery.options as unknown as ReporterOptions;
      return { accept: 'application/vnd.github.v3+json', authorization: options.authorization };
    }
    return {
      ...signatureHeaders(delivery.secrets, delivery.msgId, at, delivery.body),
      'hng-event': delivery.eventType,
      'hng-webhook': row.name,
      ...(delivery.position !== null ? { 'hng-cursor': encodeCursor(delivery.position) } : {}),
    };
  }
}

/**
 * Whether an answer means retrying cannot help: for a commit status, a
 * request the forge refuses as such (400, 404, 422); for any webhook, 410
 * Gone. Everything else, 401 and 403 included (a token being fixed, a rate
 * limit), is retried.
 */
export function isPermanent(kind: WebhookRow['kind'], status: number | null): boolean {
  if (status === 410) return true;
  return kind === 'commit-status' && status !== null && [400, 404, 422].includes(status);
}
