/**
 * `acknowledgeBuildFinished` and its batch form `acknowledgeBuildsFinished`:
 * compare-and-set on one build_finished occurrence, for a consumer or on
 * Hydra's column. The rule is the consumer service's
 * (consumers/acknowledgement.ts); this module maps arguments and outcomes.
 *
 * An unknown build is a `NOT_FOUND` error (in the batch form, for that item
 * only: its entry is null with an error at its path).
 */
import { type AckResult, MAX_BATCH } from '../../consumers/acknowledgement.js';
import { errors } from '../../errors.js';
import { loaded } from '../../hydra/loaders.js';
import { fromUnix } from '../../hydra/rows.js';
import { builder, type Context } from '../builder.js';
import { BuildRef } from './refs.js';

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
    NOT_PENDING: {
      value: 'NOT_PENDING',
      description:
        'Consumers only: the consumer never had this occurrence pending (the finish predates the consumer, or retention pruned its acknowledgement); nothing changed.',
    },
  } as const,
});

type Answer = AckResult & { outcome: Exclude<AckResult['outcome'], 'NOT_FOUND'>; ctx: Context };

const AcknowledgeResultRef = builder.objectRef<Answer>('AcknowledgeResult').implement({
  fields: (t) => ({
    buildId: t.exposeInt('buildId'),
    outcome: t.field({ type: AcknowledgeOutcomeEnum, resolve: (r) => r.outcome }),
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

/** The GraphQL answer of one result: the result, or the NOT_FOUND error of its item. */
function answer(ctx: Context, result: AckResult): Answer | Promise<never> {
  // The row changed: later fields of this request must not see the cached one.
  ctx.loaders.build.clear(result.buildId);
  return result.outcome === 'NOT_FOUND'
    ? Promise.reject(errors.buildNotFound(result.buildId))
    : { ...result, outcome: result.outcome, ctx };
}

const CONSUMER_DESCRIPTION =
  "Acknowledge for this consumer only (its own occurrence; in owner mode Hydra's column is cleared once no active consumer still has it pending). Without it, Hydra's column itself (refused in observer mode).";

builder.mutationField('acknowledgeBuildFinished', (t) =>
  t.field({
    authScopes: (_, { consumer }) => ({ actFor: consumer ?? null }),
    type: AcknowledgeResultRef,
    description:
      "Marks one build_finished occurrence processed, compare-and-set on (buildId, pendingSince): for a consumer, its own occurrence; otherwise Hydra's notificationpendingsince, cleared only if it still equals pendingSince.",
    args: {
      buildId: t.arg.int({ required: true }),
      pendingSince: t.arg({ type: 'DateTime', required: true }),
      consumer: t.arg.string({ description: CONSUMER_DESCRIPTION }),
    },
    resolve: async (_, { buildId, pendingSince, consumer }, ctx) => {
      const [result] = await ctx.consumers.acknowledge(consumer ?? null, [{ buildId, pendingSince }]);
      return answer(ctx, result!);
    },
  }),
);

builder.mutationField('acknowledgeBuildsFinished', (t) =>
  t.field({
    authScopes: (_, { consumer }) => ({ actFor: consumer ?? null }),
    type: [AcknowledgeResultRef],
    nullable: { list: false, items: true },
    description: `The batch form of acknowledgeBuildFinished (at most ${MAX_BATCH} items), answered item by item in order; an unknown build gives null and a NOT_FOUND error at its index.`,
    args: {
      items: t.arg({ type: [AcknowledgeInput], required: true }),
      consumer: t.arg.string({ description: CONSUMER_DESCRIPTION }),
    },
    resolve: async (_, { items, consumer }, ctx) => (await ctx.consumers.acknowledge(consumer ?? null, items)).map((r) => answer(ctx, r)),
  }),
);
