/**
 * Consumers: named, durable readers of build_finished, each with its own
 * pending set and acknowledgements. `Consumer`, the `consumers` and
 * `consumer(name)` queries, and the mutations that create, pause, resume and
 * remove one, and redeliver an occurrence on demand.
 *
 * In owner mode, pausing or removing a consumer may complete the
 * acknowledgement of occurrences the others already acknowledged: Hydra's
 * column is then cleared for them.
 */
import { GraphQLError } from 'graphql';
import { consumerNotFound } from '../../consumers/delivery.js';
import { clearFullyAcknowledged, lockBuilds, unacknowledgedOf } from '../../consumers/queries/acknowledge.js';
import {
  type ConsumerRow,
  deleteConsumer,
  getConsumer,
  insertConsumer,
  listConsumers,
  setPaused,
} from '../../consumers/queries/consumers.js';
import { redeliver } from '../../consumers/queries/redeliver.js';
import type { Queryable } from '../../db/queryable.js';
import { CONSUMER_CHANNEL } from '../../journal/channels.js';
import { notifyInternal } from '../../journal/queries/recorder.js';
import { fromUnix } from '../../hydra/rows.js';
import { builder, type Context } from '../builder.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Checks a consumer name; BAD_USER_INPUT otherwise. */
export function checkConsumerName(name: string): string {
  if (!NAME.test(name)) {
    throw new GraphQLError(
      `consumer names are 1 to 63 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit; got ${JSON.stringify(name.slice(0, 80))}`,
      { extensions: { code: 'BAD_USER_INPUT' } },
    );
  }
  return name;
}

export const ConsumerRef = builder.objectRef<ConsumerRow>('Consumer').implement({
  description: 'A named, durable reader of build_finished, with its own pending set.',
  fields: (t) => ({
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'Occurrences of builds finished since then are its own.' }),
    paused: t.exposeBoolean('paused', { description: 'A paused consumer keeps collecting occurrences but gets no deliveries.' }),
    pending: t.exposeInt('pending', { description: 'Occurrences not acknowledged yet.' }),
    oldestPendingSince: t.field({ type: 'DateTime', nullable: true, resolve: (c) => fromUnix(c.oldestPendingSince) }),
  }),
});

const RedeliveryRef = builder.objectRef<{ buildId: number; pendingSince: number }>('Redelivery').implement({
  fields: (t) => ({
    buildId: t.exposeInt('buildId'),
    pendingSince: t.field({ type: 'DateTime', resolve: (r) => fromUnix(r.pendingSince)! }),
  }),
});

async function hint(db: Queryable, consumer: string): Promise<void> {
  await notifyInternal(db, CONSUMER_CHANNEL, consumer);
}

async function existing(ctx: Context, name: string): Promise<ConsumerRow> {
  const row = await getConsumer(ctx.db, checkConsumerName(name));
  if (!row) throw consumerNotFound(name);
  return row;
}

/** Owner mode: what `consumer` held back from being cleared is cleared if nobody else holds it. */
async function settle(db: Queryable, ctx: Context, consumer: string, change: () => Promise<boolean>): Promise<boolean> {
  const held = ctx.mode === 'owner' ? await unacknowledgedOf(db, consumer) : [];
  if (held.length)
    await lockBuilds(
      db,
      held.map((h) => h.buildId),
    );
  const changed = await change();
  if (changed && held.length) await clearFullyAcknowledged(db, held);
  return changed;
}

builder.queryField('consumers', (t) =>
  t.field({ type: [ConsumerRef], description: 'Every consumer, by name.', resolve: (_, __, ctx) => listConsumers(ctx.db) }),
);

builder.queryField('consumer', (t) =>
  t.field({
    type: ConsumerRef,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => getConsumer(ctx.db, name),
  }),
);

builder.mutationField('createConsumer', (t) =>
  t.field({
    type: ConsumerRef,
    description:
      'Creates a consumer: from now on every build_finished occurrence is pending for it until it acknowledges it. ALREADY_EXISTS if the name is taken.',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_, { name }, ctx) => {
      if (!(await insertConsumer(ctx.db, checkConsumerName(name)))) {
        throw new GraphQLError(`a consumer named ${JSON.stringify(name)} exists already`, {
          extensions: { code: 'ALREADY_EXISTS', consumer: name },
        });
      }
      return (await getConsumer(ctx.db, name))!;
    },
  }),
);

builder.mutationField('pauseConsumer', (t) =>
  t.field({
    type: ConsumerRef,
    description:
      "Stops deliveries to the consumer; occurrences keep accumulating. In owner mode a paused consumer no longer holds back clearing Hydra's column.",
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_, { name }, ctx) => {
      await existing(ctx, name);
      await ctx.transaction((db) => settle(db, ctx, name, () => setPaused(db, name, true)));
      await hint(ctx.db, name);
      return (await getConsumer(ctx.db, name))!;
    },
  }),
);

builder.mutationField('resumeConsumer', (t) =>
  t.field({
    type: ConsumerRef,
    description: 'Resumes deliveries to a paused consumer, starting with what accumulated.',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_, { name }, ctx) => {
      await existing(ctx, name);
      await setPaused(ctx.db, name, false);
      await hint(ctx.db, name);
      return (await getConsumer(ctx.db, name))!;
    },
  }),
);

builder.mutationField('removeConsumer', (t) =>
  t.field({
    type: 'Boolean',
    description: 'Removes a consumer and its pending set. Its subscriptions receive nothing more.',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_, { name }, ctx) => {
      await existing(ctx, name);
      const removed = await ctx.transaction((db) => settle(db, ctx, name, () => deleteConsumer(db, name)));
      await hint(ctx.db, name);
      return removed;
    },
  }),
);

builder.mutationField('redeliverBuildFinished', (t) =>
  t.field({
    type: RedeliveryRef,
    description:
      "Delivers the build's latest finish to the consumer again (pending, unacknowledged, to the next subscriber at once), even if it was acknowledged or predates the consumer.",
    args: { consumer: t.arg.string({ required: true }), buildId: t.arg.int({ required: true }) },
    resolve: async (_, { consumer, buildId }, ctx) => {
      await existing(ctx, consumer);
      const result = await redeliver(ctx.db, consumer, buildId);
      if (result.kind === 'build-not-found')
        throw new GraphQLError(`no build with id ${buildId}`, { extensions: { code: 'NOT_FOUND', buildId } });
      if (result.kind === 'not-finished') {
        throw new GraphQLError(`build ${buildId} has not finished`, { extensions: { code: 'NOT_FINISHED', buildId } });
      }
      await hint(ctx.db, consumer);
      return { buildId: result.buildId, pendingSince: result.pendingSince };
    },
  }),
);
