/**
 * The journal as GraphQL: the `events` query (history, a Relay connection,
 * newest last), the `events` subscription (any channels, resumable), and the
 * `GapEvent` that marks a window no instance listened.
 */
import type { GapNotice, GatewayEvent } from '../../events/event.js';
import { type HistoryPage, historyPage } from '../../events/history.js';
import { CHANNELS, type Channel } from '../../hydra/channels.js';
import { decodeCursor, encodeCursor } from '../../journal/cursor.js';
import { builder } from '../builder.js';
import { MAX_PAGE, PageInfoRef, pageSize } from '../types/pending.js';
import {
  AFTER_DESCRIPTION,
  deliver,
  type Delivered,
  EventFilterInput,
  HydraEventRef,
  SUBSCRIPTION_CHANNELS,
  subscribeEvents,
} from './common.js';

export const ChannelEnum = builder.enumType('NotificationChannel', {
  description: "A Hydra channel, upper-cased (BUILD_FINISHED is Postgres's build_finished).",
  values: Object.fromEntries(CHANNELS.map((c) => [c.toUpperCase(), { value: c }])) as Record<Uppercase<Channel>, { value: Channel }>,
});

builder.objectRef<Delivered<GatewayEvent<GapNotice>>>('GapEvent').implement({
  description:
    'No gateway instance listened from `from` to `to`: Hydra notifications of that window are lost (build_finished ones still pending in Hydra are recovered right after, as RECOVERED events). Always delivered, whatever the filter.',
  interfaces: [HydraEventRef],
  fields: (t) => ({
    from: t.field({ type: 'DateTime', resolve: (e) => e.notice.from }),
    to: t.field({ type: 'DateTime', resolve: (e) => e.notice.to }),
  }),
});

const EventEdgeRef = builder.objectRef<GatewayEvent>('EventEdge').implement({
  fields: (t) => ({
    cursor: t.string({ resolve: (e) => encodeCursor(e.position) }),
    node: t.field({ type: HydraEventRef, resolve: (e) => e }),
  }),
});

const EventConnectionRef = builder.objectRef<HistoryPage>('EventConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [EventEdgeRef], resolve: (p) => p.events }),
    pageInfo: t.field({
      type: PageInfoRef,
      resolve: (p) => ({ hasNextPage: p.hasNextPage, endCursor: p.endPosition === null ? null : encodeCursor(p.endPosition) }),
    }),
  }),
});

builder.queryField('events', (t) =>
  t.field({
    type: EventConnectionRef,
    description: `The journal: every event the gateway recorded, oldest first (newest last), at most ${MAX_PAGE} a page. Gaps are always included.`,
    args: {
      first: t.arg.int({ description: `Page size, at most ${MAX_PAGE}. Default 50.` }),
      after: t.arg.string({ description: 'endCursor of the previous page (or any event cursor).' }),
      filter: t.arg({ type: EventFilterInput }),
      channels: t.arg({ type: [ChannelEnum], description: 'Only these channels (default: all).' }),
      since: t.arg({ type: 'DateTime', description: 'Only events received at or after this instant.' }),
      until: t.arg({ type: 'DateTime', description: 'Only events received before this instant.' }),
    },
    resolve: (_, args, ctx) =>
      historyPage(ctx.db, {
        after: args.after ? decodeCursor(args.after) : null,
        limit: pageSize(args.first),
        channels: args.channels ?? null,
        since: args.since ?? null,
        until: args.until ?? null,
        filter: args.filter ?? null,
      }),
  }),
);

/** The channels of an `events` subscription: those chosen (default: all), and gaps. */
const eventsChannels = (channels: readonly Channel[] | null | undefined): (Channel | 'gap')[] => [
  ...(channels?.length ? channels : CHANNELS),
  'gap',
];
SUBSCRIPTION_CHANNELS.set('events', (args) => eventsChannels(args.channels as Channel[] | null));

builder.subscriptionField('events', (t) =>
  t.field({
    type: HydraEventRef,
    description: 'Events of the chosen channels (default: all), gaps included; with `after`, resumed from the journal first.',
    args: {
      filter: t.arg({ type: EventFilterInput }),
      channels: t.arg({ type: [ChannelEnum] }),
      after: t.arg.string({ description: AFTER_DESCRIPTION }),
    },
    subscribe: (_, { filter, channels, after }, ctx) => subscribeEvents(ctx, eventsChannels(channels), filter, after),
    resolve: (delivery, _args, ctx) => deliver(delivery, ctx),
  }),
);
