/**
 * Cached build events: an evaluation reused an existing build instead of
 * creating one: `cachedBuildQueued` (still unfinished), `cachedBuildFinished`
 * (already finished). Sent at most once per evaluation.
 */
import type { GatewayEvent } from '../../events/event.js';
import { loaded } from '../../hydra/loaders.js';
import type { Notice } from '../../hydra/payloads.js';
import { builder } from '../builder.js';
import { EvaluationRef } from '../types/refs.js';
import { buildField, eventSubscription, HydraEventRef } from './common.js';

type CachedChannel = 'cached_build_queued' | 'cached_build_finished';
type CachedEvent = GatewayEvent<Extract<Notice, { channel: CachedChannel }>>;

function cachedEvent(channel: CachedChannel, name: string, field: string, description: string) {
  const ref = builder.objectRef<CachedEvent>(name).implement({
    description,
    interfaces: [HydraEventRef],
    fields: (t) => ({
      evaluationId: t.int({ resolve: (e) => e.notice.evaluationId }),
      evaluation: t.field({
        type: EvaluationRef,
        nullable: true,
        resolve: async (e) => loaded(e.loaders, await e.loaders.evaluation.load(e.notice.evaluationId)),
      }),
      buildId: t.int({ resolve: (e) => e.notice.buildId }),
      build: buildField(t, (e) => e.notice.buildId),
    }),
  });
  eventSubscription(field, ref, [channel], description);
}

cachedEvent(
  'cached_build_queued',
  'CachedBuildQueuedEvent',
  'cachedBuildQueued',
  'A new evaluation includes an existing, unfinished build.',
);
cachedEvent(
  'cached_build_finished',
  'CachedBuildFinishedEvent',
  'cachedBuildFinished',
  'A new evaluation includes an existing, finished build.',
);
