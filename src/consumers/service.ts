/**
 * The consumer service: every operation on consumers and on the pending
 * `build_finished` backlog, each one function owning its transaction, lock
 * order, owner/observer rule and hint. The GraphQL resolvers, the CLI and
 * webhook workers all call these, never the statements beneath.
 *
 * Contract:
 * - Names are checked here (BAD_USER_INPUT); an unknown consumer is
 *   NOT_FOUND, a taken name ALREADY_EXISTS, redelivering an unfinished build
 *   NOT_FINISHED: all from errors.ts, thrown. Acknowledgements answer item by
 *   item with typed outcomes instead (see acknowledgement.ts).
 * - A change that other instances' subscriptions must see (pause, resume,
 *   removal, redelivery, occurrences added by a reconciliation) is followed
 *   by a hint on `hng_consumer`; the occurrences table stays the truth.
 * - The recorder calls `journaled` inside each journal transaction holding a
 *   row it `concerns` (a build_finished), so a consumer's pending set holds
 *   every finish the journal holds, and
 *   `reconcile` after a gap; `start()` reconciles every minute while this
 *   instance records (finishes Hydra never announced), `stop()` ends that.
 * - Every acknowledgement call that succeeded is reported to
 *   `onAcknowledged` with its outcomes, whoever called it (a resolver, the
 *   CLI), so the metrics count them in one place.
 */
import type pg from 'pg';
import { CONSUMER_CHANNEL, notifyInternal } from '../db/channels.js';
import type { Queryable } from '../db/queryable.js';
import { inTransaction } from '../db/transaction.js';
import { errors } from '../errors.js';
import { checkFilter } from '../events/filter.js';
import type { EventHub } from '../events/hub.js';
import type { Delivery } from '../events/hub.js';
import type { Notice } from '../hydra/payloads.js';
import { type PendingPosition, type PendingQuery, pendingBuilds } from '../hydra/queries/pendingBuilds.js';
import type { Build, Occurrence } from '../hydra/rows.js';
import type { Log } from '../log.js';
import { acknowledge, type AckRequest, type AckResult, type Mode, settleHeld, toOccurrences } from './acknowledgement.js';
import { consume } from './delivery.js';
import { ConsumerHints } from './hints.js';
import { checkConsumerName, isConsumerName } from './names.js';
import { type ConsumerRow, deleteConsumer, getConsumer, insertConsumer, listConsumers, setPaused } from './queries/consumers.js';
import { type ConsumerBacklog, consumerBacklogs } from './queries/backlog.js';
import { addOccurrences } from './queries/occurrences.js';
import { consumerPending } from './queries/pending.js';
import { pruneOccurrencesBatch } from './queries/prune.js';
import { reconcileOccurrences } from './queries/reconcile.js';
import { redeliver } from './queries/redeliver.js';

export type { ConsumerBacklog, ConsumerRow, PendingPosition, PendingQuery };

export { checkConsumerName, isConsumerName };
export { occurrenceDelivery } from './delivery.js';

/** A page of a pending set: Hydra's, or a consumer's own. */
export interface PendingPage {
  items: { build: Build; pendingSince: number }[];
  hasNextPage: boolean;
}

/** A journal row as the recorder hands it over: its position and, when well-formed, what it says. */
export interface JournaledNotice {
  position: number;
  notice: Notice | null;
}

/** What the consumer service needs. */
export interface ConsumerServiceOptions {
  /** The query pool. */
  pool: pg.Pool;
  hub: EventHub;
  mode: Mode;
  /** How long a delivery waits for its acknowledgement before it is delivered again. */
  visibilityMs: number;
  log: Log;
  /** Whether this instance records (only the recorder reconciles). */
  recording: () => boolean;
  /** @default 60_000 // 1 minute */
  reconcileEveryMs?: number;
  /** Most items of one acknowledgement batch (`HNG_MAX_ACK_BATCH`). */
  maxAckBatch: number;
  /** Told the outcomes of every acknowledgement call that succeeded (the metrics count them). */
  onAcknowledged?: (consumer: string | null, results: readonly AckResult[]) => void;
}

/** Consumers and the pending backlog; see the module contract. */
export class ConsumerService {
  /** Wakes this instance's consumer subscriptions (fed by `hng_consumer`). */
  readonly hints = new ConsumerHints();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ConsumerServiceOptions) {}

  /** Every consumer, by name. */
  list(): Promise<ConsumerRow[]> {
    return listConsumers(this.options.pool);
  }

  /** One consumer, or null (also for a name no consumer could have). */
  get(name: string): Promise<ConsumerRow | null> {
    return isConsumerName(name) ? getConsumer(this.options.pool, name) : Promise.resolve(null);
  }

  /** Creates a consumer: from now on every finish is pending for it until acknowledged. */
  async create(name: string): Promise<ConsumerRow> {
    if (!(await insertConsumer(this.options.pool, checkConsumerName(name)))) throw errors.consumerExists(name);
    return this.existing(name);
  }

  /** Stops deliveries; in owner mode the consumer no longer holds back clearing Hydra's column. */
  async pause(name: string): Promise<ConsumerRow> {
    await this.existing(name);
    await inTransaction(this.options.pool, (tx) => settleHeld(tx, this.options.mode, name, () => setPaused(tx, name, true)));
    await this.hint(name);
    return this.existing(name);
  }

  /** Resumes deliveries, starting with what accumulated. */
  async resume(name: string): Promise<ConsumerRow> {
    await this.existing(name);
    await setPaused(this.options.pool, name, false);
    await this.hint(name);
    return this.existing(name);
  }

  /** Removes a consumer and its pending set; its subscriptions receive nothing more. */
  async remove(name: string): Promise<boolean> {
    await this.existing(name);
    const removed = await inTransaction(this.options.pool, (tx) => settleHeld(tx, this.options.mode, name, () => deleteConsumer(tx, name)));
    await this.hint(name);
    return removed;
  }

  /** A page of Hydra's pending backlog (consumer null) or of a consumer's pending set, oldest first. */
  async pending(consumer: string | null, query: PendingQuery): Promise<PendingPage> {
    const { pool } = this.options;
    checkFilter(query.filter);
    const items =
      consumer === null
        ? (await pendingBuilds(pool, query)).map((build) => ({ build, pendingSince: build.notificationPendingSince!.getTime() / 1000 }))
        : (await this.existing(consumer), await consumerPending(pool, consumer, query));
    return { items: items.slice(0, query.limit), hasNextPage: items.length > query.limit };
  }

  /** Acknowledges on Hydra's column (consumer null) or for a consumer, answering item by item. */
  async acknowledge(consumer: string | null, requests: readonly AckRequest[]): Promise<AckResult[]> {
    const occurrences = toOccurrences(requests, this.options.maxAckBatch);
    if (consumer !== null) await this.existing(consumer);
    const results = await acknowledge(this.options.pool, this.options.mode, consumer, occurrences);
    this.options.onAcknowledged?.(consumer, results);
    return results;
  }

  /** Every consumer's backlog: unacknowledged occurrences and the age of the oldest (for /metrics). */
  backlogs(): Promise<ConsumerBacklog[]> {
    return consumerBacklogs(this.options.pool);
  }

  /** Makes the latest finish of a build pending again for a consumer, and delivers it at once. */
  async redeliver(consumer: string, buildId: number): Promise<Occurrence> {
    await this.existing(consumer);
    const result = await redeliver(this.options.pool, consumer, buildId);
    if (result.kind === 'build-not-found') throw errors.buildNotFound(buildId);
    if (result.kind === 'not-finished') throw errors.notFinished(buildId);
    await this.hint(consumer);
    return { buildId: result.buildId, pendingSince: result.pendingSince };
  }

  /** The consumer's deliveries: pending occurrences first, then new ones, each leased until acknowledged. */
  async consume(consumer: string): Promise<AsyncIterableIterator<Delivery>> {
    await this.existing(consumer);
    const { pool, hub, visibilityMs, log } = this.options;
    return consume({ db: pool, hub, hints: this.hints, consumer, visibilityMs, log });
  }

  /** Whether `journaled` writes anything for a row with this notice: a well-formed build_finished. */
  concerns(notice: Notice | null): notice is Extract<Notice, { channel: 'build_finished' }> {
    return notice?.channel === 'build_finished';
  }

  /** In the recorder's journal transaction: the finishes these rows announce become pending for every consumer. */
  async journaled(tx: Queryable, rows: readonly JournaledNotice[]): Promise<void> {
    const items: { buildId: number; position: number }[] = [];
    for (const { position, notice } of rows) {
      if (!this.concerns(notice)) continue;
      for (const buildId of [notice.buildId, ...notice.dependentIds]) items.push({ buildId, position });
    }
    await addOccurrences(tx, items);
  }

  /**
   * Adds the finishes Hydra's table holds and no notification announced (since
   * `sinceUnix`, and every pending one), and wakes the subscriptions of each
   * consumer that gained some (on every instance, with the same commit);
   * returns how many were added.
   */
  reconcile(sinceUnix: number | null): Promise<number> {
    return reconcileOccurrences(this.options.pool, sinceUnix);
  }

  /** Deletes occurrences acknowledged before `cutoff`, in batches; returns how many. */
  async prune(cutoff: Date, batch = 5_000): Promise<number> {
    let total = 0;
    for (let n = batch; n === batch; total += n) n = await pruneOccurrencesBatch(this.options.pool, cutoff, batch);
    return total;
  }

  /** Reconciles every `reconcileEveryMs` while this instance records. */
  start(): void {
    this.timer = setInterval(() => {
      if (!this.options.recording()) return;
      this.reconcile(null).catch((error: Error) => this.options.log.warn('consumer reconciliation failed', { error: error.message }));
    }, this.options.reconcileEveryMs ?? 60_000);
    this.timer.unref();
  }

  /** Stops reconciling. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async existing(name: string): Promise<ConsumerRow> {
    const row = await getConsumer(this.options.pool, checkConsumerName(name));
    if (!row) throw errors.consumerNotFound(name);
    return row;
  }

  private async hint(consumer: string): Promise<void> {
    await notifyInternal(this.options.pool, CONSUMER_CHANNEL, consumer);
  }
}
