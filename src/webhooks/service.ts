/**
 * The webhook service: every operation on webhooks and their deliveries,
 * each one owning its checks, its statements and its hint. The GraphQL
 * resolvers and the CLI call these; the worker (worker.ts) delivers.
 *
 * Contract:
 * - Input is checked here (BAD_USER_INPUT, saying what is wrong): the name
 *   (the consumers' rule), an http(s) URL, a subscription document that
 *   compiles (plan.ts), a secret in the Standard Webhooks format, the
 *   ordering and concurrency, a reporter's options. An unknown webhook or
 *   delivery is NOT_FOUND, a taken name ALREADY_EXISTS.
 * - A new webhook reads the journal from its end (what happens from now
 *   on) and gets a `ping` delivery first, in the same transaction. A secret
 *   is returned once, at creation or rotation; rotation keeps the previous
 *   ones signing (`keep` in all) so receivers switch without a gap.
 * - Re-enabling resumes where the webhook stopped: its cursor did not move
 *   while it was disabled. `redeliver` makes one delivery pending again, due
 *   now, with its message id; `redeliverSince` rewinds the cursor to a
 *   journal position (not for a consumer-bound webhook: its position is its
 *   consumer's pending set) and deliveries made from there get new message
 *   ids (a new generation), so receivers that deduplicate take them.
 * - Every change the deliverer must see is followed by a hint on
 *   `hng_webhook`, whichever instance delivers the webhook.
 */
import type pg from 'pg';
import { WEBHOOK_CHANNEL, notifyInternal } from '../db/channels.js';
import { inTransaction } from '../db/transaction.js';
import { checkConsumerName, type ConsumerService, isConsumerName } from '../consumers/service.js';
import { errors, quoted } from '../errors.js';
import { assertNotExpired } from '../events/history.js';
import type { CompileSubscription } from './plan.js';
import {
  type AttemptRow,
  attemptsOf,
  deliveriesPage,
  type DeliveryRow,
  insertDeliveries,
  pruneDeliveriesBatch,
  resetDelivery,
} from './queries/deliveries.js';
import {
  addSecret,
  deleteWebhook,
  insertWebhook,
  listWebhooks,
  rewindCursor,
  setWebhookState,
  type WebhookRow,
  type WebhookSummary,
} from './queries/webhooks.js';
import { isSecret, newSecret } from './sign.js';
import { checkReporterOptions, type ReporterOptions, type StatusRule } from './status/reporter.js';

export type { AttemptRow, DeliveryRow, StatusRule, WebhookRow, WebhookSummary };

/** What a webhook is created with. */
export interface CreateWebhook {
  name: string;
  url: string;
  /** A subscription document of one field; the body of each delivery is the `data` it selects. */
  document: string;
  /** The document's variables: an object. */
  variables?: unknown;
  /** @default 'webhook' */
  ordering?: WebhookRow['ordering'];
  /** For `build` ordering: builds delivered at once. @default 4 */
  concurrency?: number;
  /** A `whsec_…` secret; one is made when none is given. */
  secret?: string | null;
}

/** What a commit-status reporter is created with. */
export interface CreateStatusReporter {
  name: string;
  provider: ReporterOptions['provider'];
  /** The forge's API base URL. @default https://api.github.com for github */
  baseUrl?: string | null;
  authorization: string;
  hydraUrl: string;
  rules: StatusRule[];
  /** Builds reported at once (statuses stay in order per build). @default 4 */
  concurrency?: number;
}

/** A page of deliveries, newest first. */
export interface DeliveryPage {
  deliveries: DeliveryRow[];
  hasNextPage: boolean;
}

/** What the service needs. */
export interface WebhookServiceOptions {
  pool: pg.Pool;
  compile: CompileSubscription;
  /** Which consumers exist (a consumer-bound webhook names one). */
  consumers: Pick<ConsumerService, 'get'>;
  /** Secrets that sign at once after rotations. @default 2 */
  secretsKept?: number;
}

/** The longest URL a webhook takes. */
const MAX_URL = 2_048;

/** Webhooks and their deliveries; see the module contract. */
export class WebhookService {
  constructor(private readonly options: WebhookServiceOptions) {}

  /** Every webhook, by name, with its backlog and last attempt. */
  list(): Promise<WebhookSummary[]> {
    return listWebhooks(this.options.pool);
  }

  /** One webhook, or null. */
  async get(name: string): Promise<WebhookSummary | null> {
    return (await listWebhooks(this.options.pool, name))[0] ?? null;
  }

  /** Creates a webhook delivering `document` to `url` from now on; returns it with its secret (shown once). */
  async create(input: CreateWebhook): Promise<{ webhook: WebhookSummary; secret: string }> {
    const name = checkName(input.name);
    const url = checkUrl(input.url);
    const variables = input.variables ?? {};
    if (typeof variables !== 'object' || variables === null || Array.isArray(variables))
      throw errors.badInput('variables must be an object');
    const plan = this.options.compile(input.document, variables as Record<string, unknown>);
    if (plan.consumer !== null) {
      checkConsumerName(plan.consumer);
      if (!(await this.options.consumers.get(plan.consumer))) throw errors.consumerNotFound(plan.consumer);
    }
    const secret = input.secret ?? newSecret();
    if (!isSecret(secret))
      throw errors.badInput('a secret is "whsec_" and at least 16 characters of base64, e.g. made by the gateway when none is given');
    const ordering = checkOrdering(input.ordering ?? 'webhook');
    const concurrency = checkConcurrency(input.concurrency ?? 4);
    await this.insert({
      name,
      kind: 'http',
      url,
      document: input.document,
      variables: variables as Record<string, unknown>,
      secrets: [secret],
      ordering,
      concurrency,
      consumer: plan.consumer,
      options: {},
    });
    return { webhook: (await this.get(name))!, secret };
  }

  /** Creates a commit-status reporter: statuses for the builds of evaluations, from now on. */
  async createStatusReporter(input: CreateStatusReporter): Promise<WebhookSummary> {
    const name = checkName(input.name);
    const baseUrl = checkUrl(input.baseUrl ?? (input.provider === 'github' ? 'https://api.github.com' : ''));
    const options = checkReporterOptions({
      provider: input.provider,
      authorization: input.authorization,
      hydraUrl: input.hydraUrl,
      rules: input.rules,
    });
    await this.insert({
      name,
      kind: 'commit-status',
      url: baseUrl,
      document: '',
      variables: {},
      secrets: [],
      ordering: 'build',
      concurrency: checkConcurrency(input.concurrency ?? 4),
      consumer: null,
      options: options as unknown as Record<string, unknown>,
    });
    return (await this.get(name))!;
  }

  /** Removes a webhook with its deliveries and their log. */
  async remove(name: string): Promise<boolean> {
    await this.existing(name);
    const removed = await deleteWebhook(this.options.pool, name);
    await this.hint(name);
    return removed;
  }

  /** Enables a webhook: it resumes where it stopped, its failures forgotten. */
  async enable(name: string): Promise<WebhookSummary> {
    await this.existing(name);
    await setWebhookState(this.options.pool, name, 'active', null);
    await this.hint(name);
    return this.existing(name);
  }

  /** Disables a webhook (with the reason shown); its cursor stays where it is. */
  async disable(name: string, reason: string | null): Promise<WebhookSummary> {
    await this.existing(name);
    await setWebhookState(this.options.pool, name, 'disabled', reason?.slice(0, 500) || 'disabled by an administrator');
    await this.hint(name);
    return this.existing(name);
  }

  /** Queues a `ping` delivery (after what is pending, in the webhook's order). */
  async ping(name: string): Promise<DeliveryRow> {
    const webhook = await this.existing(name);
    if (webhook.kind !== 'http')
      throw errors.badInput(`${quoted(name)} is a commit-status reporter: it sets statuses, it has no endpoint to ping`);
    const msgId = `msg_${webhook.id}_ping_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    await insertDeliveries(this.options.pool, webhook.id, [pingDelivery(webhook, msgId)]);
    await this.hint(name);
    return (await deliveriesPage(this.options.pool, webhook.id, { before: null, limit: 20, state: null })).find((d) => d.msgId === msgId)!;
  }

  /** Adds a new secret, which signs beside the previous one(s) from now on; returns it (shown once). */
  async rotateSecret(name: string, secret: string | null = null): Promise<{ webhook: WebhookSummary; secret: string }> {
    const webhook = await this.existing(name);
    if (webhook.kind !== 'http') throw errors.badInput(`${quoted(name)} is a commit-status reporter: it signs nothing`);
    const next = secret ?? newSecret();
    if (!isSecret(next)) throw errors.badInput('a secret is "whsec_" and at least 16 characters of base64');
    await addSecret(this.options.pool, name, next, this.options.secretsKept ?? 2);
    return { webhook: await this.existing(name), secret: next };
  }

  /** Makes a delivery pending again, due now, with the same message id. */
  async redeliver(deliveryId: string): Promise<DeliveryRow> {
    const id = /^\d{1,15}$/.test(deliveryId) ? Number(deliveryId) : null;
    const reset = id === null ? null : await resetDelivery(this.options.pool, id);
    if (!reset) throw errors.deliveryNotFound(deliveryId);
    await this.hint(reset.webhook);
    return reset.delivery;
  }

  /** Delivers again everything after journal position `after`, with new message ids. */
  async redeliverSince(name: string, after: number): Promise<WebhookSummary> {
    const webhook = await this.existing(name);
    if (webhook.consumer !== null) {
      throw errors.badInput(
        `${quoted(name)} follows consumer ${quoted(webhook.consumer)}: redeliver its builds with redeliverBuildFinished, or one delivery with redeliverWebhook`,
      );
    }
    await assertNotExpired(this.options.pool, after);
    await rewindCursor(this.options.pool, name, after);
    await this.hint(name);
    return this.existing(name);
  }

  /** A page of a webhook's deliveries, newest first (`before`: a delivery id). */
  async deliveries(
    name: string,
    query: { limit: number; before: string | null; state: DeliveryRow['state'] | null },
  ): Promise<DeliveryPage> {
    const webhook = await this.existing(name);
    if (query.before !== null && !/^\d{1,15}$/.test(query.before)) throw errors.badInput(`not a delivery id: ${quoted(query.before)}`);
    const rows = await deliveriesPage(this.options.pool, webhook.id, {
      before: query.before === null ? null : Number(query.before),
      limit: query.limit,
      state: query.state,
    });
    return { deliveries: rows.slice(0, query.limit), hasNextPage: rows.length > query.limit };
  }

  /** The attempts of deliveries (the delivery log), oldest first. */
  attempts(deliveryIds: readonly number[]): Promise<AttemptRow[]> {
    return attemptsOf(this.options.pool, deliveryIds);
  }

  /** Deletes settled deliveries created before `cutoff` (retention), in batches; returns how many. */
  async prune(cutoff: Date, batch = 5_000): Promise<number> {
    let total = 0;
    for (let n = batch; n === batch; total += n) n = await pruneDeliveriesBatch(this.options.pool, cutoff, batch);
    return total;
  }

  private async insert(webhook: Parameters<typeof insertWebhook>[1]): Promise<void> {
    await inTransaction(this.options.pool, async (tx) => {
      const row = await insertWebhook(tx, webhook);
      if (!row) throw errors.webhookExists(webhook.name);
      if (row.kind === 'http') await insertDeliveries(tx, row.id, [pingDelivery(row, `msg_${row.id}_ping`)]);
    });
    await this.hint(webhook.name);
  }

  private async existing(name: string): Promise<WebhookSummary> {
    const found = await this.get(checkName(name));
    if (!found) throw errors.webhookNotFound(name);
    return found;
  }

  private async hint(name: string): Promise<void> {
    await notifyInternal(this.options.pool, WEBHOOK_CHANNEL, name);
  }
}

function pingDelivery(webhook: WebhookRow, msgId: string) {
  return {
    msgId,
    eventType: 'ping',
    position: null,
    buildId: null,
    occurrenceSince: null,
    url: webhook.url,
    body: JSON.stringify({ ping: { webhook: webhook.name, at: new Date().toISOString() } }),
  };
}

function checkName(name: string): string {
  if (!isConsumerName(name)) {
    throw errors.badInput(
      `webhook names are 1 to 63 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit; got ${quoted(name, 80)}`,
    );
  }
  return name;
}

function checkUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw errors.badInput(`not a URL: ${quoted(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw errors.badInput(`a webhook URL is http or https; got ${quoted(url.protocol)}`);
  if (text.length > MAX_URL) throw errors.badInput(`a webhook URL has at most ${MAX_URL} characters`);
  return text;
}

function checkOrdering(ordering: string): WebhookRow['ordering'] {
  if (ordering !== 'webhook' && ordering !== 'build') throw errors.badInput(`ordering is webhook or build; got ${quoted(ordering)}`);
  return ordering;
}

function checkConcurrency(concurrency: number): number {
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw errors.badInput(`concurrency is 1 to 64; got ${quoted(concurrency)}`);
  return concurrency;
}
