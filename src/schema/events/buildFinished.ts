/**
 * `buildFinished`: a build finished (Hydra's only durable notification).
 *
 * The event carries the build, its dependents (builds that failed with it;
 * the build itself never repeats among them, though Hydra lists it on
 * failure) and `pendingSince`, the `notificationpendingsince` this occurrence
 * reports, which `acknowledgeBuildFinished` takes back for compare-and-set.
 */
import type { Channel } from '../../hydra/channels.js';
import { errors } from '../../errors.js';
import type { EventOf } from '../../events/event.js';
import { loaded } from '../../hydra/loaders.js';
import { fromUnix } from '../../hydra/rows.js';
import { builder } from '../builder.js';
import { BuildRef } from '../types/refs.js';
import {
  AFTER_DESCRIPTION,
  buildField,
  deliver,
  EventFilterInput,
  HydraEventRef,
  SUBSCRIPTION_CHANNELS,
  subscribeEvents,
} from './common.js';

type FinishedEvent = EventOf<'build_finished'>;

export const BuildFinishedEventRef = builder.objectRef<FinishedEvent>('BuildFinishedEvent').implement({
  description: 'A build finished. Delivered at least once: acknowledge it with acknowledgeBuildFinished.',
  interfaces: [HydraEventRef],
  fields: (t) => ({
    buildId: t.int({ resolve: (e) => e.notice.buildId }),
    build: buildField(t, (e) => e.notice.buildId),
    dependentIds: t.intList({
      description: 'Builds that finished because of this one, in payload order, without repeats.',
      resolve: (e) => e.notice.dependentIds,
    }),
    dependents: t.field({
      type: [BuildRef],
      nullable: { list: false, items: true },
      description: 'The rows of dependentIds, in the same order; null where a row does not exist.',
      resolve: async (e) =>
        (await e.loaders.build.loadMany(e.notice.dependentIds)).map((b) => (b instanceof Error ? null : loaded(e.loaders, b))),
    }),
    selfListed: t.boolean({
      description: 'Hydra listed the build among its own dependents (it does so on failure).',
      resolve: (e) => e.notice.selfListed,
    }),
    chunks: t.exposeInt('chunks', { description: 'How many notifications Hydra split this payload into.' }),
    consumer: t.string({
      nullable: true,
      description: 'The consumer this was delivered to (consumer subscriptions only).',
      resolve: (e) => e.delivery?.consumer ?? null,
    }),
    deliveryCount: t.int({
      nullable: true,
      description: 'How many times this occurrence was delivered to its consumer, this time included (consumer subscriptions only).',
      resolve: (e) => e.delivery?.count ?? null,
    }),
    pendingSince: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        "The build's notificationpendingsince for this finish, to pass to acknowledgeBuildFinished; null when it was already acknowledged (or the row is gone) when the event was read.",
      resolve: async (e) => {
        if (e.pendingSince !== undefined) return fromUnix(e.pendingSince);
        return (await e.loaders.build.load(e.notice.buildId))?.notificationPendingSince ?? null;
      },
    }),
  }),
});

const FINISHED: readonly Channel[] = ['build_finished'];
SUBSCRIPTION_CHANNELS.set('buildFinished', () => FINISHED);

builder.subscriptionField('buildFinished', (t) =>
  t.field({
    // A consumer's deliveries are for who may act for it (and acknowledge them).
    authScopes: (_, { consumer }) => (consumer == null ? { read: true } : { actFor: consumer }),
    type: BuildFinishedEventRef,
    description: 'Builds finishing, live, and after a lost LISTEN connection, the pending ones recovered from Hydra.',
    args: {
      filter: t.arg({ type: EventFilterInput }),
      after: t.arg.string({ description: AFTER_DESCRIPTION }),
      consumer: t.arg.string({
        description:
          "Deliver this consumer's occurrences instead: its pending ones first, then new ones, each again after the visibility timeout (or when this subscription ends) until acknowledged with the same consumer. Every build of a build_finished (the build and each dependent) is an occurrence of its own. Several subscriptions of one consumer share its occurrences.",
      }),
    },
    subscribe: async (_, { filter, after, consumer }, ctx) => {
      if (consumer == null) return subscribeEvents(ctx, FINISHED, filter, after);
      if (filter || after) throw errors.badInput('a consumer subscription takes neither filter nor after: its pending set is its position');
      return ctx.consumers.consume(consumer);
    },
    resolve: (delivery, _args, ctx) => deliver<FinishedEvent>(delivery, ctx),
  }),
);
