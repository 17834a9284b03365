/**
 * `queueChanged`: the channels that wake Hydra's daemons rather than describe
 * one row: the trigger channels on `builds` and `jobsets` (no payload),
 * `builds_added` (lowest new build id, or `?` from the queue runner's API)
 * and the operator's `hydra_notify_dump_metrics`. `kind` names the channel.
 */
import type { GatewayEvent } from '../../events/event.js';
import { QUEUE_CHANNELS, type QueueChannel } from '../../hydra/channels.js';
import type { Notice } from '../../hydra/payloads.js';
import { builder } from '../builder.js';
import {
  AFTER_DESCRIPTION,
  buildField,
  deliver,
  EventFilterInput,
  HydraEventRef,
  SUBSCRIPTION_CHANNELS,
  subscribeEvents,
} from './common.js';

type QueueEvent = GatewayEvent<Extract<Notice, { channel: QueueChannel }>>;

export const QueueChangeKindEnum = builder.enumType('QueueChangeKind', {
  description: 'The channel of a queueChanged event, upper-cased.',
  values: Object.fromEntries(QUEUE_CHANNELS.map((c) => [c.toUpperCase(), { value: c }])) as Record<
    Uppercase<QueueChannel>,
    { value: QueueChannel }
  >,
});

const QueueChangedEventRef = builder.objectRef<QueueEvent>('QueueChangedEvent').implement({
  description: "Hydra's queue or jobsets changed (a trigger channel, builds_added, or a metrics dump request).",
  interfaces: [HydraEventRef],
  fields: (t) => ({
    kind: t.field({ type: QueueChangeKindEnum, resolve: (e) => e.notice.channel }),
    lowestNewBuildId: t.int({
      nullable: true,
      description: 'builds_added only: the lowest id of the new builds; null for "?" (sent by the queue runner\'s API).',
      resolve: (e) => ('lowestNewBuildId' in e.notice ? e.notice.lowestNewBuildId : null),
    }),
    build: buildField(
      t,
      (e) => ('lowestNewBuildId' in e.notice ? e.notice.lowestNewBuildId : null),
      'builds_added only: the build named by lowestNewBuildId.',
    ),
  }),
});

/** The channels of a `queueChanged` subscription: the kinds chosen (default: all). */
const queueChannels = (kinds: readonly QueueChannel[] | null | undefined): readonly QueueChannel[] =>
  kinds?.length ? kinds : QUEUE_CHANNELS;
SUBSCRIPTION_CHANNELS.set('queueChanged', (args) => queueChannels(args.kinds as QueueChannel[] | null));

builder.subscriptionField('queueChanged', (t) =>
  t.field({
    type: QueueChangedEventRef,
    description: 'Queue and jobset changes; `kinds` selects channels (default: all).',
    args: {
      filter: t.arg({ type: EventFilterInput }),
      kinds: t.arg({ type: [QueueChangeKindEnum] }),
      after: t.arg.string({ description: AFTER_DESCRIPTION }),
    },
    subscribe: (_, { filter, kinds, after }, ctx) => subscribeEvents(ctx, queueChannels(kinds), filter, after),
    resolve: (delivery, _args, ctx) => deliver<QueueEvent>(delivery, ctx),
  }),
);
