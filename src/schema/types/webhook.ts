/**
 * Webhooks (admin): `Webhook` with its deliveries and their log, the
 * `webhooks` and `webhook(name)` queries, and the mutations that create
 * (an endpoint, or a commit-status reporter), enable, disable, ping, rotate
 * the secret of, remove and redeliver. Each resolver is one call to the
 * webhook service (webhooks/service.ts), which owns the rules; the worker
 * delivers.
 */
import DataLoader from 'dataloader';
import { decodeCursor, encodeCursor } from '../../journal/cursor.js';
import type { AttemptRow, DeliveryPage, DeliveryRow, StatusRule, WebhookSummary } from '../../webhooks/service.js';
import { builder, type Context } from '../builder.js';
import { PageInfoRef, pageSize } from './pending.js';

const KindEnum = builder.enumType('WebhookKind', {
  values: {
    HTTP: { value: 'http', description: "The subscription's data POSTed to the URL, signed per Standard Webhooks." },
    COMMIT_STATUS: { value: 'commit-status', description: 'Commit statuses set on GitHub or Gitea for the builds of evaluations.' },
  } as const,
});

const StateEnum = builder.enumType('WebhookState', {
  values: {
    ACTIVE: { value: 'active', description: 'Delivering.' },
    DISABLED: { value: 'disabled', description: 'Not delivering (disabledReason says why); its cursor stays where it stopped.' },
  } as const,
});

const OrderingEnum = builder.enumType('WebhookOrdering', {
  values: {
    WEBHOOK: {
      value: 'webhook',
      description: 'One delivery at a time, in journal order: nothing overtakes a delivery waiting for a retry.',
    },
    BUILD: { value: 'build', description: 'In order per build, up to `concurrency` builds at once.' },
  } as const,
});

const DeliveryStateEnum = builder.enumType('WebhookDeliveryState', {
  values: {
    PENDING: { value: 'pending', description: 'To be attempted, or retried at nextAttemptAt.' },
    DELIVERED: { value: 'delivered', description: 'Answered with a 2xx.' },
    DEAD: {
      value: 'dead',
      description: 'Failed with no attempt left (or an answer retrying cannot change); redeliverWebhook tries it again.',
    },
  } as const,
});

const ForgeEnum = builder.enumType('Forge', {
  values: {
    GITHUB: { value: 'github', description: 'GitHub or GitHub Enterprise (baseUrl https://HOST/api/v3).' },
    GITEA: { value: 'gitea', description: 'Gitea or Forgejo (baseUrl https://HOST/api/v1).' },
  } as const,
});

const AttemptRef = builder.objectRef<AttemptRow>('WebhookAttempt').implement({
  description: 'One attempt of a delivery, as the delivery log keeps it.',
  fields: (t) => ({
    attempt: t.exposeInt('attempt', { description: '1 for the first.' }),
    instance: t.exposeString('instance', { description: 'The gateway instance that made it.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    status: t.exposeInt('status', { nullable: true, description: "The response's HTTP status; null when none came (refused, timed out)." }),
    latencyMs: t.exposeInt('latencyMs'),
    error: t.exposeString('error', { nullable: true }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: 'The first 4 KiB of the response body.' }),
  }),
});

/** The attempts of the deliveries a request shows, in one query. */
const attemptLoaders = new WeakMap<Context, DataLoader<number, AttemptRow[]>>();
function attemptsOf(ctx: Context): DataLoader<number, AttemptRow[]> {
  let loader = attemptLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader(async (ids) => {
      const rows = await ctx.webhooks.attempts(ids);
      return ids.map((id) => rows.filter((r) => r.deliveryId === id));
    });
    attemptLoaders.set(ctx, loader);
  }
  return loader;
}

const DeliveryRef = builder.objectRef<DeliveryRow>('WebhookDelivery').implement({
  description: 'One message to a webhook (an event, a gap, a ping, or a commit status), with its attempts.',
  fields: (t) => ({
    id: t.id({ resolve: (d) => String(d.id), description: 'What redeliverWebhook takes.' }),
    msgId: t.exposeString('msgId', { description: 'The webhook-id header, the same on every attempt: the receiver deduplicates by it.' }),
    event: t.exposeString('eventType', {
      description: 'The subscription field (e.g. buildFinished), `gap`, `ping`, or for a status the channel.',
    }),
    cursor: t.string({
      nullable: true,
      description: "The journal event's cursor.",
      resolve: (d) => (d.position === null ? null : encodeCursor(d.position)),
    }),
    buildId: t.exposeInt('buildId', { nullable: true }),
    url: t.exposeString('url'),
    body: t.exposeString('body', { description: 'What is POSTed.' }),
    state: t.field({ type: DeliveryStateEnum, resolve: (d) => d.state }),
    attempts: t.exposeInt('attempts'),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => (d.state === 'pending' ? d.nextAttemptAt : null) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    lastStatus: t.exposeInt('lastStatus', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    log: t.field({ type: [AttemptRef], description: 'Every attempt, oldest first.', resolve: (d, _, ctx) => attemptsOf(ctx).load(d.id) }),
  }),
});

const DeliveryEdgeRef = builder.objectRef<DeliveryRow>('WebhookDeliveryEdge').implement({
  fields: (t) => ({
    cursor: t.string({ resolve: (d) => String(d.id) }),
    node: t.field({ type: DeliveryRef, resolve: (d) => d }),
  }),
});

const DeliveryConnectionRef = builder.objectRef<DeliveryPage>('WebhookDeliveryConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [DeliveryEdgeRef], resolve: (p) => p.deliveries }),
    pageInfo: t.field({
      type: PageInfoRef,
      resolve: (p) => ({ hasNextPage: p.hasNextPage, endCursor: p.deliveries.at(-1) ? String(p.deliveries.at(-1)!.id) : null }),
    }),
  }),
});

const LastAttemptRef = builder.objectRef<NonNullable<WebhookSummary['lastAttempt']>>('WebhookLastAttempt').implement({
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime' }),
    status: t.exposeInt('status', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

const StatusRuleRef = builder.objectRef<StatusRule>('StatusRule').implement({
  fields: (t) => ({
    jobs: t.string({ resolve: (r) => r.jobs ?? '.*' }),
    inputs: t.stringList({ resolve: (r) => r.inputs ?? [] }),
    context: t.exposeString('context', { nullable: true }),
    description: t.exposeString('description', { nullable: true }),
    targetUrl: t.exposeString('targetUrl', { nullable: true }),
    useShortContext: t.boolean({ resolve: (r) => r.useShortContext ?? false }),
    excludeBuildFromContext: t.boolean({ resolve: (r) => r.excludeBuildFromContext ?? false }),
  }),
});

const ReporterRef = builder.objectRef<WebhookSummary>('StatusReporter').implement({
  description: "A commit-status reporter's settings (its authorization is never shown).",
  fields: (t) => ({
    provider: t.field({ type: ForgeEnum, resolve: (w) => w.options.provider as 'github' | 'gitea' }),
    hydraUrl: t.string({ resolve: (w) => String(w.options.hydraUrl) }),
    rules: t.field({ type: [StatusRuleRef], resolve: (w) => (w.options.rules as StatusRule[]) ?? [] }),
  }),
});

export const WebhookRef = builder.objectRef<WebhookSummary>('Webhook').implement({
  description: 'A durable subscription delivered to an HTTP endpoint: it reads the journal from a cursor of its own.',
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.field({ type: KindEnum, resolve: (w) => w.kind }),
    url: t.exposeString('url', { description: "The endpoint; for a reporter, the forge's API base URL." }),
    subscription: t.string({
      nullable: true,
      description: 'The subscription document (null for a reporter).',
      resolve: (w) => w.document || null,
    }),
    variables: t.field({ type: 'JSON', resolve: (w) => w.variables }),
    consumer: t.exposeString('consumer', {
      nullable: true,
      description: 'The consumer whose occurrences it delivers; each 2xx acknowledges one.',
    }),
    reporter: t.field({ type: ReporterRef, nullable: true, resolve: (w) => (w.kind === 'commit-status' ? w : null) }),
    ordering: t.field({ type: OrderingEnum, resolve: (w) => w.ordering }),
    concurrency: t.exposeInt('concurrency'),
    state: t.field({ type: StateEnum, resolve: (w) => w.state }),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
    failingSince: t.expose('failingSince', {
      type: 'DateTime',
      nullable: true,
      description: 'Since when every attempt failed; null when the last one succeeded.',
    }),
    cursor: t.string({ description: 'The journal position it has read through.', resolve: (w) => encodeCursor(w.cursor) }),
    secrets: t.int({
      description: 'How many secrets sign its deliveries (after a rotation, the new one and the previous).',
      resolve: (w) => w.secrets.length,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveringInstance: t.string({
      nullable: true,
      description: 'The gateway instance delivering it now (holding its lease).',
      resolve: (w) => (w.leaseOwner && w.leaseUntil && w.leaseUntil.getTime() > Date.now() ? w.leaseOwner : null),
    }),
    backlog: t.exposeInt('pending', { description: 'Deliveries waiting to be attempted or retried.' }),
    dead: t.exposeInt('dead', { description: 'Dead deliveries (until redelivered, or pruned by retention).' }),
    oldestPendingAt: t.expose('oldestPendingAt', { type: 'DateTime', nullable: true }),
    lastAttempt: t.field({ type: LastAttemptRef, nullable: true, resolve: (w) => w.lastAttempt }),
    deliveries: t.field({
      type: DeliveryConnectionRef,
      description: 'Its deliveries, newest first.',
      args: {
        first: t.arg.int({ description: 'Page size, at most 500. Default 50.' }),
        after: t.arg.string({ description: 'endCursor of the previous page.' }),
        state: t.arg({ type: DeliveryStateEnum }),
      },
      resolve: (w, args, ctx) =>
        ctx.webhooks.deliveries(w.name, { limit: pageSize(args.first), before: args.after ?? null, state: args.state ?? null }),
    }),
  }),
});

const CreatedWebhookRef = builder.objectRef<{ webhook: WebhookSummary; secret: string }>('CreatedWebhook').implement({
  fields: (t) => ({
    webhook: t.field({ type: WebhookRef, resolve: (c) => c.webhook }),
    secret: t.exposeString('secret', { description: 'The whsec_… secret its deliveries are signed with. Shown only here: store it now.' }),
  }),
});

const StatusRuleInput = builder.inputType('StatusRuleInput', {
  fields: (t) => ({
    jobs: t.string({ description: 'A regular expression matched against the whole project:jobset:job. Default: every job.' }),
    inputs: t.stringList({ description: 'The evaluation inputs whose commits get statuses (flake evaluations need none).' }),
    context: t.string({ description: 'Default continuous-integration/hydra:{project}:{jobset}:{job}:{build}.' }),
    description: t.string({ description: 'Default "Hydra build #{build} of {project}:{jobset}:{job}".' }),
    targetUrl: t.string({ description: 'Default {hydra}/build/{build}.' }),
    useShortContext: t.boolean({ description: 'ci/hydra:{project}:{jobset}:{job without -pr-N}:{build}.' }),
    excludeBuildFromContext: t.boolean({ description: 'No :{build} at the end of the default contexts.' }),
  }),
});

builder.queryField('webhooks', (t) =>
  t.field({
    type: [WebhookRef],
    authScopes: { admin: true },
    description: 'Every webhook, by name.',
    resolve: (_, __, ctx) => ctx.webhooks.list(),
  }),
);

builder.queryField('webhook', (t) =>
  t.field({
    type: WebhookRef,
    nullable: true,
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.webhooks.get(name),
  }),
);

builder.mutationField('createWebhook', (t) =>
  t.field({
    type: CreatedWebhookRef,
    authScopes: { admin: true },
    description:
      "Creates a webhook: each event the subscription selects from now on is POSTed to url, its body exactly the data the document selects; a ping first. buildFinished(consumer:) delivers that consumer's occurrences, each 2xx acknowledging one.",
    args: {
      name: t.arg.string({ required: true }),
      url: t.arg.string({ required: true }),
      subscription: t.arg.string({
        required: true,
        description: 'A subscription document of one field, e.g. subscription { buildFinished { buildId } }.',
      }),
      variables: t.arg({ type: 'JSON', description: "The document's variables, an object." }),
      ordering: t.arg({ type: OrderingEnum }),
      concurrency: t.arg.int({ description: 'For BUILD ordering: builds at once, 1 to 64. Default 4.' }),
      secret: t.arg.string({ description: 'A whsec_… secret to sign with; default: a new one.' }),
    },
    resolve: (_, args, ctx) =>
      ctx.webhooks.create({
        name: args.name,
        url: args.url,
        document: args.subscription,
        variables: args.variables ?? undefined,
        ordering: args.ordering ?? undefined,
        concurrency: args.concurrency ?? undefined,
        secret: args.secret,
      }),
  }),
);

builder.mutationField('createStatusReporter', (t) =>
  t.field({
    type: WebhookRef,
    authScopes: { admin: true },
    description:
      'Creates a commit-status reporter: pending when a build is queued or an evaluation reuses an unfinished one, success/failure/error when it finishes (cached and already-built jobs too), on the commits of the evaluations that contain it.',
    args: {
      name: t.arg.string({ required: true }),
      provider: t.arg({ type: ForgeEnum, required: true }),
      baseUrl: t.arg.string({ description: "The forge's API base URL. Default https://api.github.com for GITHUB." }),
      authorization: t.arg.string({
        required: true,
        description: 'The Authorization header value, e.g. "token ghp_…". Never shown again.',
      }),
      hydraUrl: t.arg.string({ required: true, description: "Hydra's base URL, for the statuses' links." }),
      rules: t.arg({ type: [StatusRuleInput], required: true }),
      concurrency: t.arg.int({ description: 'Builds reported at once, 1 to 64. Default 4.' }),
    },
    resolve: (_, args, ctx) =>
      ctx.webhooks.createStatusReporter({
        name: args.name,
        provider: args.provider,
        baseUrl: args.baseUrl,
        authorization: args.authorization,
        hydraUrl: args.hydraUrl,
        concurrency: args.concurrency ?? undefined,
        rules: args.rules.map((r) => ({
          ...(r.jobs != null && { jobs: r.jobs }),
          ...(r.inputs != null && { inputs: r.inputs }),
          ...(r.context != null && { context: r.context }),
          ...(r.description != null && { description: r.description }),
          ...(r.targetUrl != null && { targetUrl: r.targetUrl }),
          ...(r.useShortContext != null && { useShortContext: r.useShortContext }),
          ...(r.excludeBuildFromContext != null && { excludeBuildFromContext: r.excludeBuildFromContext }),
        })),
      }),
  }),
);

builder.mutationField('removeWebhook', (t) =>
  t.boolean({
    authScopes: { admin: true },
    description: 'Removes a webhook with its deliveries and their log.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.webhooks.remove(name),
  }),
);

builder.mutationField('enableWebhook', (t) =>
  t.field({
    type: WebhookRef,
    authScopes: { admin: true },
    description: 'Enables a webhook (also one disabled for failing): it resumes where it stopped.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.webhooks.enable(name),
  }),
);

builder.mutationField('disableWebhook', (t) =>
  t.field({
    type: WebhookRef,
    authScopes: { admin: true },
    description: 'Disables a webhook; enableWebhook resumes it from where it stopped.',
    args: { name: t.arg.string({ required: true }), reason: t.arg.string() },
    resolve: (_, { name, reason }, ctx) => ctx.webhooks.disable(name, reason ?? null),
  }),
);

builder.mutationField('pingWebhook', (t) =>
  t.field({
    type: DeliveryRef,
    authScopes: { admin: true },
    description: 'Queues a ping delivery, after what is pending.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.webhooks.ping(name),
  }),
);

builder.mutationField('rotateWebhookSecret', (t) =>
  t.field({
    type: CreatedWebhookRef,
    authScopes: { admin: true },
    description: 'Adds a new secret; deliveries are signed with it and the previous one until the next rotation.',
    args: { name: t.arg.string({ required: true }), secret: t.arg.string({ description: 'A whsec_… secret; default: a new one.' }) },
    resolve: (_, { name, secret }, ctx) => ctx.webhooks.rotateSecret(name, secret ?? null),
  }),
);

builder.mutationField('redeliverWebhook', (t) =>
  t.field({
    type: DeliveryRef,
    authScopes: { admin: true },
    description: 'Makes a delivery (dead, or delivered) pending again, due now, with the same webhook-id.',
    args: { deliveryId: t.arg.id({ required: true }) },
    resolve: (_, { deliveryId }, ctx) => ctx.webhooks.redeliver(String(deliveryId)),
  }),
);

builder.mutationField('redeliverWebhookSince', (t) =>
  t.field({
    type: WebhookRef,
    authScopes: { admin: true },
    description: 'Delivers again every event after this journal cursor, with new webhook-ids; CURSOR_EXPIRED when retention pruned them.',
    args: { name: t.arg.string({ required: true }), after: t.arg.string({ required: true }) },
    resolve: (_, { name, after }, ctx) => ctx.webhooks.redeliverSince(name, decodeCursor(after)),
  }),
);
