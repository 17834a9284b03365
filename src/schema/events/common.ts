/**
 * What every event type shares: the `HydraEvent` interface, the
 * `EventFilter` input and the helper that turns hub deliveries into a
 * subscription field.
 *
 * Contract: a subscription field subscribes to the hub for its channels with
 * the client's filter; each delivery resolves to the event, or, when the hub
 * ended the subscription (the client fell more than the queue limit behind,
 * or its filter could not load rows), to a GraphQL error with a stable
 * `extensions.code` (`SLOW_CONSUMER`, `ROW_LOAD_FAILED`) after which the
 * subscription completes. A client is never silently skipped.
 */
import { GraphQLError } from 'graphql';
import type { Channel } from '../../hydra/channels.js';
import type { GatewayEvent } from '../../events/event.js';
import { type EventFilter, matches } from '../../events/filter.js';
import type { Delivery } from '../../events/hub.js';
import { builder, type Context } from '../builder.js';

/** GraphQL type name of each channel's events. */
export const EVENT_TYPE_NAMES: Record<Channel, string> = {
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

export const HydraEventRef = builder.interfaceRef<GatewayEvent>('HydraEvent').implement({
  description: 'One Hydra notification, parsed, with the rows it names.',
  resolveType: (event) => EVENT_TYPE_NAMES[event.channel],
  fields: (t) => ({
    channel: t.exposeString('channel', { description: 'The Postgres channel, e.g. "build_finished".' }),
    payload: t.exposeString('payload', { description: 'The raw payload (chunks of a split payload joined by newlines).' }),
    receivedAt: t.expose('receivedAt', { type: 'DateTime' }),
    source: t.field({ type: EventSourceEnum, resolve: (e) => e.source }),
  }),
});

export const EventFilterInput = builder.inputType('EventFilter', {
  description:
    'Criteria on the rows an event names; all optional, ANDed. A criterion about something the event does not name excludes it.',
  fields: (t) => ({
    project: t.string({ description: 'Project name.' }),
    jobset: t.string({ description: 'Jobset name.' }),
    job: t.string({ description: 'Job name, e.g. "hello.x86_64-linux".' }),
    buildId: t.int({ description: 'The build (for build_finished: the build or one of its dependents).' }),
    system: t.string({ description: 'The build\'s system, e.g. "x86_64-linux".' }),
  }),
});

/** Subscribes to the hub for `channels`, filtered; see the module contract. */
export function subscribeEvents(
  ctx: Context,
  channels: readonly Channel[],
  filter: EventFilter | null | undefined,
  extra?: (event: GatewayEvent) => boolean,
): AsyncIterable<Delivery> {
  return ctx.hub.subscribe({
    channels: new Set(channels),
    limit: ctx.subscriberQueueLimit,
    maxLagMs: ctx.subscriberMaxLagMs,
    accept: (event) => (!extra || extra(event)) && matches(event, filter),
  });
}

/** Turns a delivery into its event, or the error that ends the subscription. */
export function deliver<E extends GatewayEvent>(delivery: Delivery): E {
  switch (delivery.kind) {
    case 'event':
      return delivery.event as E;
    case 'overflow':
      throw new GraphQLError(
        `subscription ended: this client fell behind (more than ${delivery.limit} events, or events older than ${delivery.maxLagMs} ms, waiting for it); resubscribe and read the backlog`,
        { extensions: { code: 'SLOW_CONSUMER' } },
      );
    case 'error':
      throw new GraphQLError('subscription ended: the rows for its filter could not be loaded', {
        extensions: { code: 'ROW_LOAD_FAILED' },
      });
  }
}
