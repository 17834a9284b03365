/**
 * `acknowledgeBuildFinished` and its batch form `acknowledgeBuildsFinished`:
 * compare-and-set on `builds.notificationpendingsince`.
 *
 * An acknowledgement names the occurrence it processed by its `pendingSince`;
 * only that occurrence is cleared, so a build that finished again since (a
 * restart) stays pending (`STALE`). An unknown build is a `NOT_FOUND` error
 * (in the batch form, for that item only: its entry is null with an error at
 * its path). `pendingSince` must be a whole second, as Hydra stores it.
 */
import { GraphQLError } from 'graphql';
import { type AckRequest, type AckResult, acknowledgeBuilds } from '../../hydra/queries/acknowledgeBuilds.js';
import { fromUnix, toUnix } from '../../hydra/rows.js';
import { loaded } from '../../hydra/loaders.js';
import { consumerNotFound } from '../../consumers/delivery.js';
import { acknowledgeOccurrences, clearFullyAcknowledged, lockBuilds } from '../../consumers/queries/acknowledge.js';
import { getConsumer } from '../../consumers/queries/consumers.js';
import { builder, type Context } from '../builder.js';
import { checkConsumerName } from './consumer.js';
import { BuildRef } from './refs.js';

/** Most items one batch may carry. */
export const MAX_BATCH = 1_000;

const AcknowledgeOutcomeEnum = builder.enumType('AcknowledgeOutcome', {
  values: {
    ACKNOWLEDGED: { value: 'ACKNOWLEDGED', description: 'This call cleared the pending occurrence.' },
    ALREADY_ACKNOWLEDGED: {
      value: 'ALREADY_ACKNOWLEDGED',
      description: 'The occurrence was acknowledged before (or concurrently, by another caller).',
    },
    STALE: {
      value: 'STALE',
      description: 'A different finish of the build is pending (it was restarted and finished again); see pendingSince.',
    },
    NOT_FINISHED: { value: 'NOT_FINISHED', description: 'The build is not finished (queued, building, or restarted).' },
  } as const,
});

const AcknowledgeResultRef = builder.objectRef<AckResult & { ctx: Context }>('AcknowledgeResult').implement({
  fields: (t) => ({
    buildId: t.exposeInt('buildId'),
    outcome: t.field({ type: AcknowledgeOutcomeEnum, resolve: (r) => r.outcome as Exclude<AckResult['outcome'], 'NOT_FOUND'> }),
    pendingSince: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The occurrence still pending after this call (for STALE: the newer finish to process).',
      resolve: (r) => fromUnix(r.currentPendingSince),
    }),
    build: t.field({
      type: BuildRef,
      nullable: true,
      resolve: async (r) => loaded(r.ctx.loaders, await r.ctx.loaders.build.load(r.buildId)),
    }),
  }),
});

const AcknowledgeInput = builder.inputType('AcknowledgeBuildFinishedInput', {
  fields: (t) => ({
    buildId: t.int({ required: true }),
    pendingSince: t.field({ type: 'DateTime', required: true }),
  }),
});

/** Hydra's `notificationpendingsince` is a Postgres integer: 1901-12-13T20:45:52Z to 2038-01-19T03:14:07Z. */
const INT4_MIN = -2_147_483_648;
const INT4_MAX = 2_147_483_647;

function toRequest(buildId: number, pendingSince: Date): AckRequest {
  try {
    const seconds = toUnix(pendingSince);
    // Out of range, the statement would fail as an internal error.
    if (seconds < INT4_MIN || seconds > INT4_MAX) {
      throw new RangeError(`${pendingSince.toISOString()} is outside what Hydra stores (32-bit Unix seconds)`);
    }
    return { buildId, pendingSince: seconds };
  } catch (error) {
    throw new GraphQLError((error as Error).message, { extensions: { code: 'BAD_USER_INPUT' } });
  }
}

function notFound(buildId: number): GraphQLError {
  return new GraphQLError(`no build with id ${buildId}`, { extensions: { code: 'NOT_FOUND', buildId } });
}

/** The error for writing Hydra's column in observer mode. */
function observerMode(): GraphQLError {
  return new GraphQLError(
    'this gateway runs in observer mode (HNG_MODE=observer): hydra-notify clears notificationpendingsince, the gateway never writes it; acknowledge per consumer instead',
    { extensions: { code: 'OBSERVER_MODE' } },
  );
}

/** Acknowledges for `consumer` (its own occurrences) or, without one, on Hydra's column. */
async function acknowledge(ctx: Context, consumer: string | null | undefined, requests: AckRequest[]): Promise<AckResult[]> {
  if (consumer == null) {
    if (ctx.mode === 'observer') throw observerMode();
    return acknowledgeBuilds(ctx.db, requests);
  }
  const name = checkConsumerName(consumer);
  if (!(await getConsumer(ctx.db, name))) throw consumerNotFound(name);
  return ctx.transaction(async (db) => {
    // Owner mode only: the locks order acknowledgements so the last one clears Hydra's column.
    // An observer never writes (nor locks) Hydra's rows, and needs no UPDATE grant.
    if (ctx.mode === 'owner')
      await lockBuilds(
        db,
        requests.map((r) => r.buildId),
      );
    const results = await acknowledgeOccurrences(db, name, requests);
    if (ctx.mode === 'owner') {
      await clearFullyAcknowledged(
        db,
        requests.filter((_, i) => results[i]!.outcome === 'ACKNOWLEDGED'),
      );
    }
    return results;
  });
}

const CONSUMER_DESCRIPTION =
  "Acknowledge for this consumer only (its own occurrence; in owner mode Hydra's column is cleared once no active consumer still has it pending). Without it, Hydra's column itself (refused in observer mode).";

builder.mutationField('acknowledgeBuildFinished', (t) =>
  t.field({
    type: AcknowledgeResultRef,
    description:
      "Marks one build_finished occurrence processed, compare-and-set on (buildId, pendingSince): for a consumer, its own occurrence; otherwise Hydra's notificationpendingsince, cleared only if it still equals pendingSince.",
    args: {
      buildId: t.arg.int({ required: true }),
      pendingSince: t.arg({ type: 'DateTime', required: true }),
      consumer: t.arg.string({ description: CONSUMER_DESCRIPTION }),
    },
    resolve: async (_, { buildId, pendingSince, consumer }, ctx) => {
      const [result] = await acknowledge(ctx, consumer, [toRequest(buildId, pendingSince)]);
      if (!result || result.outcome === 'NOT_FOUND') throw notFound(buildId);
      ctx.loaders.build.clear(buildId);
      return { ...result, ctx };
    },
  }),
);

builder.mutationField('acknowledgeBuildsFinished', (t) =>
  t.field({
    type: [AcknowledgeResultRef],
    nullable: { list: false, items: true },
    description: `The batch form of acknowledgeBuildFinished (at most ${MAX_BATCH} items), answered item by item in order; an unknown build gives null and a NOT_FOUND error at its index.`,
    args: {
      items: t.arg({ type: [AcknowledgeInput], required: true }),
      consumer: t.arg.string({ description: CONSUMER_DESCRIPTION }),
    },
    resolve: async (_, { items, consumer }, ctx) => {
      if (items.length > MAX_BATCH) {
        throw new GraphQLError(`at most ${MAX_BATCH} items per batch, got ${items.length}`, { extensions: { code: 'BAD_USER_INPUT' } });
      }
      const results = await acknowledge(
        ctx,
        consumer,
        items.map((i) => toRequest(i.buildId, i.pendingSince)),
      );
      for (const r of results) ctx.loaders.build.clear(r.buildId);
      return results.map((r) => (r.outcome === 'NOT_FOUND' ? Promise.reject(notFound(r.buildId)) : { ...r, ctx }));
    },
  }),
);
