/**
 * The journal as GraphQL: the `events` query (history, a Relay connection,
 * newest last), the `events` subscription (any channels, resumable), and the
 * `GapEvent` that marks a window no instance listened.
 */
import { GraphQLError } from 'graphql';
import type { GapNotice, GatewayEvent } from '../../events/event.js';
import { matches } from '../../events/filter.js';
import { assertNotExpired } from '../../events/replay.js';
import { Pipeline } from '../../events/pipeline.js';
import { CHANNELS, type Channel } from '../../hydra/channels.js';
import { decodeCursor, encodeCursor } from '../../journal/cursor.js';
import { journalPage } from '../../journal/queries/history.js';
import { silentLog } from '../../log.js';
import { builder } from '../builder.js';
import { MAX_PAGE, PageInfoRef, pageSize } from '../types/pending.js';
import { AFTER_DESCRIPTION, deliver, type Delivered, EventFilterInput, HydraEventRef, subscribeEvents } from './common.js';

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

interface EventPage {
  events: GatewayEvent[];
  hasNextPage: boolean;
  endCursor: string | null;
}

const EventEdgeRef = builder.objectRef<GatewayEvent>('EventEdge').implement({
  fields: (t) => ({
    cursor: t.string({ resolve: (e) => encodeCursor(e.position) }),
    node: t.field({ type: HydraEventRef, resolve: (e) => e }),
  }),
});

const EventConnectionRef = builder.objectRef<EventPage>('EventConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [EventEdgeRef], resolve: (p) => p.events }),
    pageInfo: t.field({
      type: PageInfoRef,
      resolve: (p) => ({ hasNextPage: p.hasNextPage, endCursor: p.endCursor }),
    }),
  }),
});

/** Journal rows scanned at most for one page of a filtered history query. */
const SCAN_LIMIT = 20_000;

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
    resolve: async (_, args, ctx) => {
      const limit = pageSize(args.first);
      const after = args.after ? decodeCursor(args.after) : 0;
      if (args.after) await assertNotExpired(ctx.db, after);
      if (args.since && args.until && args.since > args.until) {
        throw new GraphQLError('since must not be after until', { extensions: { code: 'BAD_USER_INPUT' } });
      }
      const events: GatewayEvent[] = [];
      const pipeline = new Pipeline({ db: ctx.db, log: silentLog, chunkWindowMs: Infinity, emit: (e) => events.push(e) });
      const out: GatewayEvent[] = [];
      let position = after;
      let scanned = 0;
      let exhausted = false;
      // Read until the page is full (filters drop events), one event beyond it, or the end.
      while (out.length <= limit && scanned < SCAN_LIMIT) {
        const rows = await journalPage(ctx.db, {
          after: position,
          limit: 500,
          channels: args.channels ?? null,
          since: args.since ?? null,
          until: args.until ?? null,
        });
        scanned += rows.length;
        for (const row of rows) pipeline.accept(row);
        if (rows.length < 500) {
          pipeline.flush();
          exhausted = true;
        }
        for (const event of events.splice(0)) {
          if (event.channel === 'gap' || (await matches(event, args.filter))) out.push(event);
        }
        if (exhausted) break;
        position = rows.at(-1)!.position;
      }
      // A split build_finished open at the page's end is cut back to a whole event.
      const page = out.slice(0, limit);
      const hasNextPage = out.length > limit || (!exhausted && scanned >= SCAN_LIMIT);
      const lastEvent = page.at(-1);
      return {
        events: page,
        hasNextPage,
        endCursor: lastEvent ? encodeCursor(lastEvent.position) : hasNextPage ? encodeCursor(position) : null,
      };
    },
  }),
);

builder.subscriptionField('events', (t) =>
  t.field({
    type: HydraEventRef,
    description: 'Events of the chosen channels (default: all), gaps included; with `after`, resumed from the journal first.',
    args: {
      filter: t.arg({ type: EventFilterInput }),
      channels: t.arg({ type: [ChannelEnum] }),
      after: t.arg.string({ description: AFTER_DESCRIPTION }),
    },
    subscribe: (_, { filter, channels, after }, ctx) =>
      subscribeEvents(ctx, [...(channels?.length ? channels : CHANNELS), 'gap'], filter, after),
    resolve: (delivery, _args, ctx) => deliver(delivery, ctx),
  }),
);
