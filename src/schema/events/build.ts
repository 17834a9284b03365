/**
 * Build and step events: `buildQueued`, `buildStarted`, `stepStarted`,
 * `stepFinished`. `build_started` may repeat for one build (one per step
 * dispatched and per retry); steps are named by (build, stepNr).
 */
import type { GatewayEvent } from '../../events/event.js';
import { loaded } from '../../hydra/loaders.js';
import type { Notice } from '../../hydra/payloads.js';
import { builder } from '../builder.js';
import { BuildStepRef } from '../types/refs.js';
import { buildField, eventSubscription, HydraEventRef } from './common.js';

type BuildEvent = GatewayEvent<Extract<Notice, { channel: 'build_queued' | 'build_started' }>>;
type StepEvent = GatewayEvent<Extract<Notice, { channel: 'step_started' | 'step_finished' }>>;

function buildEvent(channel: 'build_queued' | 'build_started', name: string, field: string, description: string) {
  const ref = builder.objectRef<BuildEvent>(name).implement({
    description,
    interfaces: [HydraEventRef],
    fields: (t) => ({
      buildId: t.int({ resolve: (e) => e.notice.buildId }),
      build: buildField(t, (e) => e.notice.buildId),
    }),
  });
  eventSubscription(field, ref, [channel], description);
}

function stepEvent(channel: 'step_started' | 'step_finished', name: string, field: string, description: string) {
  const ref = builder.objectRef<StepEvent>(name).implement({
    description,
    interfaces: [HydraEventRef],
    fields: (t) => ({
      buildId: t.int({ resolve: (e) => e.notice.buildId }),
      build: buildField(t, (e) => e.notice.buildId),
      stepNr: t.int({ resolve: (e) => e.notice.stepNr }),
      step: t.field({ type: BuildStepRef, nullable: true, resolve: async (e) => loaded(e.loaders, await e.loaders.step.load(e.notice)) }),
      ...(channel === 'step_finished'
        ? {
            logPath: t.string({
              nullable: true,
              description: 'Absolute path of the step\'s log on the queue runner\'s machine; null when Hydra sent "-".',
              resolve: (e) => ('logPath' in e.notice ? e.notice.logPath : null),
            }),
          }
        : {}),
    }),
  });
  eventSubscription(field, ref, [channel], description);
}

buildEvent('build_queued', 'BuildQueuedEvent', 'buildQueued', 'An evaluation created a new build.');
buildEvent(
  'build_started',
  'BuildStartedEvent',
  'buildStarted',
  'A step of the build was dispatched to a builder (may repeat per step and retry).',
);
stepEvent('step_started', 'StepStartedEvent', 'stepStarted', 'A build step started.');
stepEvent(
  'step_finished',
  'StepFinishedEvent',
  'stepFinished',
  'A build step ended: success, failure, or a failed attempt that will be retried.',
);
