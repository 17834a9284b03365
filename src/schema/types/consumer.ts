/**
 * Consumers: named, durable readers of build_finished, each with its own
 * pending set and acknowledgements. `Consumer`, the `consumers` and
 * `consumer(name)` queries, and the mutations that create, pause, resume and
 * remove one, and redeliver an occurrence on demand. Each resolver is one
 * call to the consumer service (consumers/service.ts), which owns the rules.
 */
import type { ConsumerRow } from '../../consumers/service.js';
import type { Occurrence } from '../../hydra/rows.js';
import { fromUnix } from '../../hydra/rows.js';
import { builder } from '../builder.js';

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

const RedeliveryRef = builder.objectRef<Occurrence>('Redelivery').implement({
  fields: (t) => ({
    buildId: t.exposeInt('buildId'),
    pendingSince: t.field({ type: 'DateTime', resolve: (r) => fromUnix(r.pendingSince)! }),
  }),
});

builder.queryField('consumers', (t) =>
  t.field({ type: [ConsumerRef], description: 'Every consumer, by name.', resolve: (_, __, ctx) => ctx.consumers.list() }),
);

builder.queryField('consumer', (t) =>
  t.field({
    type: ConsumerRef,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.consumers.get(name),
  }),
);

builder.mutationField('createConsumer', (t) =>
  t.field({
    authScopes: { admin: true },
    type: ConsumerRef,
    description:
      'Creates a consumer: from now on every build_finished occurrence is pending for it until it acknowledges it. ALREADY_EXISTS if the name is taken.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.consumers.create(name),
  }),
);

builder.mutationField('pauseConsumer', (t) =>
  t.field({
    authScopes: { admin: true },
    type: ConsumerRef,
    description:
      "Stops deliveries to the consumer; occurrences keep accumulating. In owner mode a paused consumer no longer holds back clearing Hydra's column.",
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.consumers.pause(name),
  }),
);

builder.mutationField('resumeConsumer', (t) =>
  t.field({
    authScopes: { admin: true },
    type: ConsumerRef,
    description: 'Resumes deliveries to a paused consumer, starting with what accumulated.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.consumers.resume(name),
  }),
);

builder.mutationField('removeConsumer', (t) =>
  t.field({
    authScopes: { admin: true },
    type: 'Boolean',
    description: 'Removes a consumer and its pending set. Its subscriptions receive nothing more.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.consumers.remove(name),
  }),
);

builder.mutationField('redeliverBuildFinished', (t) =>
  t.field({
    authScopes: (_, { consumer }) => ({ actFor: consumer }),
    type: RedeliveryRef,
    description:
      "Delivers the build's latest finish to the consumer again (pending, unacknowledged, to the next subscriber at once), even if it was acknowledged or predates the consumer.",
    args: { consumer: t.arg.string({ required: true }), buildId: t.arg.int({ required: true }) },
    resolve: (_, { consumer, buildId }, ctx) => ctx.consumers.redeliver(consumer, buildId),
  }),
);
