/**
 * Evaluation events: `evalStarted`, `evalAdded`, `evalCached`, `evalFailed`.
 * Each carries the evaluator's `traceId`, which ties together the events of
 * one evaluation attempt, and the jobset; `evalAdded` the new evaluation,
 * `evalCached` the previous one (inputs unchanged).
 */
import type { GatewayEvent } from '../../events/event.js';
import type { Notice } from '../../hydra/payloads.js';
import { loaded } from '../../hydra/loaders.js';
import { builder } from '../builder.js';
import { EvaluationRef, JobsetRef } from '../types/refs.js';
import { eventSubscription, HydraEventRef } from './common.js';

type EvalChannel = 'eval_started' | 'eval_added' | 'eval_cached' | 'eval_failed';
type EvalEvent = GatewayEvent<Extract<Notice, { channel: EvalChannel }>>;

function evalEvent(channel: EvalChannel, name: string, field: string, description: string, evaluation?: string) {
  const ref = builder.objectRef<EvalEvent>(name).implement({
    description,
    interfaces: [HydraEventRef],
    fields: (t) => ({
      traceId: t.string({ description: "The evaluator's trace id of this evaluation attempt.", resolve: (e) => e.notice.traceId }),
      jobsetId: t.int({ resolve: (e) => e.notice.jobsetId }),
      jobset: t.field({
        type: JobsetRef,
        nullable: true,
        resolve: async (e) => loaded(e.loaders, await e.loaders.jobset.load(e.notice.jobsetId)),
      }),
      ...(evaluation
        ? {
            evaluationId: t.int({
              description: evaluation,
              resolve: (e) => ('evaluationId' in e.notice ? e.notice.evaluationId : 0),
            }),
            evaluation: t.field({
              type: EvaluationRef,
              nullable: true,
              description: evaluation,
              resolve: async (e) =>
                'evaluationId' in e.notice ? loaded(e.loaders, await e.loaders.evaluation.load(e.notice.evaluationId)) : null,
            }),
          }
        : {}),
    }),
  });
  eventSubscription(field, ref, [channel], description);
}

evalEvent('eval_started', 'EvalStartedEvent', 'evalStarted', 'The evaluator started checking a jobset.');
evalEvent(
  'eval_added',
  'EvalAddedEvent',
  'evalAdded',
  'An evaluation succeeded (also when it added no new builds).',
  'The new evaluation.',
);
evalEvent(
  'eval_cached',
  'EvalCachedEvent',
  'evalCached',
  "A jobset's inputs are unchanged since its last evaluation.",
  'The previous evaluation, still current.',
);
evalEvent('eval_failed', 'EvalFailedEvent', 'evalFailed', 'Fetching inputs or evaluating a jobset failed.');
