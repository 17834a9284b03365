/**
 * What every event type shares: the `HydraEvent` interface, the
 * `EventFilter` input, and the two helpers every event module uses: a
 * subscription field (`eventSubscription`) and a `build` field (`buildField`).
 *
 * Contract: a subscription field maps its arguments to one `openStream` call
 * (events/subscribe.ts); each delivery resolves to the event, or, when the
 * stream ended the subscription (the client fell behind, or its filter could
 * not load rows), to a GraphQL error with a stable `extensions.code`
 * (`SLOW_CONSUMER`, `ROW_LOAD_FAILED`) after which the subscription
 * completes. A client is never silently skipped. `deliver` also notes the
 * event on the operation's context (`lastCursor` for SSE ids,
 * `lastDelivered` for the delivery metrics), which the transport's plugins
 * read when they write the result.
 */
import type { ObjectRef } from '@pothos/core';
import { GraphQLError } from 'graphql';
import { errors } from '../../errors.js';
import type { GapNotice, GatewayEvent } from '../../events/event.js';
import type { Delivery } from '../../events/hub.js';
import type { EventFilter } from '../../events/filter.js';
import { openStream } from '../../events/subscribe.js';
import type { Channel } from '../../hydra/channels.js';
import { type Loaders, loaded } from '../../hydra/loaders.js';
import { encodeCursor } from '../../journal/cursor.js';
import { builder, type Context, type SchemaTypes } from '../builder.js';
import { BuildRef } from '../types/refs.js';

/** GraphQL type name of each channel's events. */
export const EVENT_TYPE_NAMES: Record<Channel | 'gap', string> = {
  gap: 'GapEvent',
  eval_started: 'EvalStartedEvent',
  eval_added: 'EvalAddedEvent',
  eval_cached: 'EvalCachedEvent',
  eval_failed: 'EvalFailedEvent',
  build_queued: 'BuildQueuedEvent',
  build_started: 'BuildStartedEvent',
  step_started: 'StepStartedEvent',
  step_finished: 'StepFinishedEvent',
  build_finished: 'BuildFinishedEvent',
  cached_build_queued: 'CachedBuildQueuedEvent',
  cached_build_finished: 'CachedBuildFinishedEvent',
  builds_added: 'QueueChangedEvent',
  builds_restarted: 'QueueChangedEvent',
  builds_cancelled: 'QueueChangedEvent',
  builds_bumped: 'QueueChangedEvent',
  builds_deleted: 'QueueChangedEvent',
  jobsets_added: 'QueueChangedEvent',
  jobsets_deleted: 'QueueChangedEvent',
  jobset_scheduling_changed: 'QueueChangedEvent',
  jobset_shares_changed: 'QueueChangedEvent',
  hydra_notify_dump_metrics: 'QueueChangedEvent',
};

export const EventSourceEnum = builder.enumType('EventSource', {
  values: {
    LIVE: { value: 'LIVE', description: 'Received as a notification.' },
    RECOVERED: {
      value: 'RECOVERED',
      description: "Read from Hydra's tables after the gateway's LISTEN connection was restored (build_finished only).",
    },
  } as const,
});

/** An event as delivered to one subscriber: with the gap it crossed, if any. */
export type Delivered<E extends GatewayEvent = GatewayEvent> = E & { readonly gapBefore?: GapNotice | null };

export const GapRef = builder.objectRef<GapNotice>('Gap').implement({
  description: 'A window in which no gateway instance listened: notifications Hydra sent then are lost.',
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
  }),
});

export const HydraEventRef = builder.interfaceRef<Delivered>('HydraEvent').implement({
  description: 'One Hydra notification, parsed, with the rows it names.',
  resolveType: (event) => EVENT_TYPE_NAMES[event.channel],
  fields: (t) => ({
    cursor: t.string({
      nullable: true,
      description:
        "Where this event stands in the journal: pass it as `after` (or SSE Last-Event-ID) to resume right after it. Null only for a consumer's occurrence reconciled from Hydra's table rather than journaled.",
      resolve: (e) => (e.position > 0 ? encodeCursor(e.position) : null),
    }),
    precededByGap: t.field({
      type: GapRef,
      nullable: true,
      description:
        'Set when the journal records a window nobody listened between the previous event this subscriber received and this one.',
      resolve: (e) => e.gapBefore ?? null,
    }),
    channel: t.exposeString('channel', { description: 'The Postgres channel, e.g. "build_finished".' }),
    payload: t.exposeString('payload', { description: 'The raw payload (chunks of a split payload joined by newlines).' }),
    receivedAt: t.expose('receivedAt', { type: 'DateTime' }),
    source: t.field({ type: EventSourceEnum, resolve: (e) => e.source }),
  }),
});

export const EventFilterInput = builder.inputType('EventFilter', {
  description: 'Criteria on the rows an event names; all optional, ANDed. A criterion about something the event does not name excludes it.',
  fields: (t) => ({
    project: t.string({ description: 'Project name.' }),
    jobset: t.string({ description: 'Jobset name.' }),
    job: t.string({ description: 'Job name, e.g. "hello.x86_64-linux".' }),
    buildId: t.int({ description: 'The build (for build_finished: the build or one of its dependents).' }),
    system: t.string({ description: 'The build\'s system, e.g. "x86_64-linux".' }),
  }),
});

/**
 * The channels each subscription field delivers, from its arguments: what a
 * server-side subscription (a webhook, schema/subscriptions.ts) reads from
 * the journal for it. Every subscription field registers here.
 */
export const SUBSCRIPTION_CHANNELS = new Map<string, (args: Record<string, unknown>) => readonly (Channel | 'gap')[]>();

/** The `after` argument every subscription takes. */
export const AFTER_DESCRIPTION =
  'Resume after this cursor: first every journaled event after it, then live ones, with no gap and no duplicate. CURSOR_EXPIRED when retention pruned them.';

/** Turns a delivery into its event, or the error that ends the subscription. */
export function deliver<E extends GatewayEvent>(delivery: Delivery, ctx: Context): Delivered<E> {
  ctx.lastDelivered = undefined;
  switch (delivery.kind) {
    case 'event': {
      const { event } = delivery;
      if (event.position > 0) ctx.lastCursor = encodeCursor(event.position);
      ctx.lastDelivered = { channel: event.channel, receivedAt: event.receivedAt, live: !delivery.replayed && !event.delivery };
      return (delivery.gapBefore ? Object.create(event, { gapBefore: { value: delivery.gapBefore } }) : event) as Delivered<E>;
    }
    case 'overflow':
      throw errors.slowConsumer(delivery.why);
    case 'error':
      if (delivery.error instanceof GraphQLError) throw delivery.error;
      throw errors.rowLoadFailed();
  }
}

/** A subscriber's events of `channels`, filtered, after `after` (or the SSE `Last-Event-ID`), on its transport. */
export function subscribeEvents(
  ctx: Context,
  channels: readonly (Channel | 'gap')[],
  filter: EventFilter | null | undefined,
  after: string | null | undefined,
) {
  return openStream(ctx.streams, { channels, filter, after, resumeAfter: ctx.resumeAfter, transport: ctx.transport });
}

/**
 * Registers the subscription field `field`: events of `channels`, typed as
 * `ref`, with the `filter` and `after` arguments every subscription takes.
 */
export function eventSubscription<E extends GatewayEvent>(
  field: string,
  ref: ObjectRef<SchemaTypes, E>,
  channels: readonly Channel[],
  description: string,
): void {
  SUBSCRIPTION_CHANNELS.set(field, () => channels);
  builder.subscriptionField(field, (t) =>
    t.field({
      type: ref,
      description,
      args: { filter: t.arg({ type: EventFilterInput }), after: t.arg.string({ description: AFTER_DESCRIPTION }) },
      subscribe: (_, { filter, after }, ctx) => subscribeEvents(ctx, channels, filter, after),
      // Pothos cannot resolve its result type for a generic E; deliver<E> returns the ref's type.
      resolve: (delivery, _args, ctx) => deliver<E>(delivery, ctx) as never,
    }),
  );
}

/** A nullable `build` field resolving the build `id(parent)` names (none when it names none) with the parent's loaders. */
export function buildField<P extends { readonly loaders: Loaders }>(
  t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, P>,
  id: (parent: P) => number | null,
  description?: string,
) {
  return t.field({
    type: BuildRef,
    nullable: true,
    ...(description ? { description } : {}),
    resolve: async (parent) => {
      const buildId = id(parent);
      return buildId === null ? null : loaded(parent.loaders, await parent.loaders.build.load(buildId));
    },
  });
}
