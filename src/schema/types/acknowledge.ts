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
import { builder, type Context } from '../builder.js';
import { BuildRef } from './refs.js';

/** Most items one batch may carry. */
export const MAX_BATCH = 1_000;

const AcknowledgeOutcomeEnum = builder.enumType('AcknowledgeOutcome', {
  values: {
    ACKNOWLEDGED: { value: 'ACKNOWLEDGED', description: 'This call cleared the pending occurrence.' },
    ALREADY_ACKNOWLEDGED: { value: 'ALREADY_ACKNOWLEDGED', description: 'The occurrence was acknowledged before (or concurrently, by another caller).' },
    STALE: { value: 'STALE', description: 'A different finish of the build is pending (it was restarted and finished again); see pendingSince.' },
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
    build: t.field({ type: BuildRef, nullable: true, resolve: async (r) => loaded(r.ctx.loaders, await r.ctx.loaders.build.load(r.buildId)) }),
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

builder.mutationField('acknowledgeBuildFinished', (t) =>
  t.field({
    type: AcknowledgeResultRef,
    description: "Marks one build_finished occurrence processed: clears the build's notificationpendingsince if it still equals pendingSince.",
    args: {
      buildId: t.arg.int({ required: true }),
      pendingSince: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: async (_, { buildId, pendingSince }, ctx) => {
      const [result] = await acknowledgeBuilds(ctx.db, [toRequest(buildId, pendingSince)]);
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
    args: { items: t.arg({ type: [AcknowledgeInput], required: true }) },
    resolve: async (_, { items }, ctx) => {
      if (items.length > MAX_BATCH) {
        throw new GraphQLError(`at most ${MAX_BATCH} items per batch, got ${items.length}`, { extensions: { code: 'BAD_USER_INPUT' } });
      }
      const results = await acknowledgeBuilds(ctx.db, items.map((i) => toRequest(i.buildId, i.pendingSince)));
      for (const r of results) ctx.loaders.build.clear(r.buildId);
      return results.map((r) => (r.outcome === 'NOT_FOUND' ? Promise.reject(notFound(r.buildId)) : { ...r, ctx }));
    },
  }),
);
