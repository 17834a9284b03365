/**
 * `pendingBuildFinished`: the builds whose `build_finished` has not been
 * acknowledged (`notificationpendingsince` set), oldest first, as a Relay
 * connection. Cursors are opaque; they encode the (pendingSince, id) keyset
 * position, so paging is stable while builds are acknowledged or added.
 */
import { errors, quoted } from '../../errors.js';
import { attachLoaders, type Loaded } from '../../hydra/loaders.js';
import type { PendingPosition } from '../../consumers/service.js';
import { type Build, fromUnix, isInt4 } from '../../hydra/rows.js';
import { builder } from '../builder.js';
import { EventFilterInput } from '../events/common.js';
import { BuildRef } from './refs.js';

/** Most items one page may ask for. */
export const MAX_PAGE = 500;

const PREFIX = 'pending:';

/** The opaque cursor of a pending build. */
export function encodePendingCursor(position: PendingPosition): string {
  return Buffer.from(`${PREFIX}${position.since}:${position.id}`).toString('base64url');
}

/** The position of a cursor from `encodePendingCursor`; a BAD_USER_INPUT error otherwise. */
export function decodePendingCursor(cursor: string): PendingPosition {
  const text = Buffer.from(cursor, 'base64url').toString();
  const match = /^pending:(\d{1,10}):(\d{1,10})$/.exec(text);
  // Both are Postgres integers: a larger value would fail in SQL as an internal error.
  if (!match || !isInt4(Number(match[1])) || !isInt4(Number(match[2])))
    throw errors.badInput(`not a pendingBuildFinished cursor: ${quoted(cursor)}`);
  return { since: Number(match[1]), id: Number(match[2]) };
}

/** Checks a page size argument. */
export function pageSize(first: number | null | undefined, fallback = 50): number {
  const n = first ?? fallback;
  if (n < 0 || n > MAX_PAGE) throw errors.badInput(`first must be between 0 and ${MAX_PAGE}, got ${n}`);
  return n;
}

/** One pending occurrence: the build and the pendingSince it is pending with. */
interface PendingItem {
  build: Loaded<Build>;
  /** Unix seconds. */
  since: number;
}

interface Page {
  items: PendingItem[];
  hasNextPage: boolean;
}

const cursorOf = (item: PendingItem) => encodePendingCursor({ since: item.since, id: item.build.id });

/** Relay's PageInfo, shared by every connection. */
export const PageInfoRef = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

const PendingEdgeRef = builder.objectRef<PendingItem>('PendingBuildFinishedEdge').implement({
  fields: (t) => ({
    cursor: t.string({ resolve: cursorOf }),
    node: t.field({ type: BuildRef, resolve: (i) => i.build }),
    pendingSince: t.field({
      type: 'DateTime',
      description: 'The value to acknowledge this occurrence with.',
      resolve: (i) => fromUnix(i.since)!,
    }),
  }),
});

const PendingConnectionRef = builder.objectRef<Page>('PendingBuildFinishedConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [PendingEdgeRef], resolve: (p) => p.items }),
    pageInfo: t.field({
      type: PageInfoRef,
      resolve: (p) => {
        const last = p.items.at(-1);
        return { hasNextPage: p.hasNextPage, endCursor: last ? cursorOf(last) : null };
      },
    }),
  }),
});

builder.queryField('pendingBuildFinished', (t) =>
  t.field({
    // A consumer's pending set is for who may act for it; Hydra's own backlog, for readers.
    authScopes: (_, { consumer }) => (consumer == null ? { read: true } : { actFor: consumer }),
    type: PendingConnectionRef,
    description: 'Finished builds whose build_finished is not yet acknowledged, oldest first.',
    args: {
      first: t.arg.int({ description: `Page size, at most ${MAX_PAGE}. Default 50.` }),
      after: t.arg.string({ description: 'endCursor of the previous page.' }),
      filter: t.arg({ type: EventFilterInput }),
      consumer: t.arg.string({
        description: "This consumer's own pending set instead of Hydra's column (pendingSince is then the occurrence's).",
      }),
    },
    resolve: async (_, args, ctx) => {
      const page = await ctx.consumers.pending(args.consumer ?? null, {
        after: args.after ? decodePendingCursor(args.after) : null,
        limit: pageSize(args.first),
        filter: args.filter ?? {},
      });
      // Nested fields that name these builds reuse the rows, within this request. The page's rows
      // are this request's own, read just now: they carry the loaders themselves, uncopied.
      const items = page.items.map((i) => ({ build: attachLoaders(ctx.loaders, i.build), since: i.pendingSince }));
      for (const { build } of items) ctx.loaders.build.prime(build.id, build);
      return { items, hasNextPage: page.hasNextPage };
    },
  }),
);
