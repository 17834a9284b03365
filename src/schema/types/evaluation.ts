/** `Evaluation`: one evaluation of a jobset (`jobsetevals` row), and `evaluation(id)`. */
import { loaded } from '../../hydra/loaders.js';
import { builder } from '../builder.js';
import { EvaluationRef, JobsetRef } from './refs.js';

EvaluationRef.implement({
  description: 'A successful evaluation of a jobset.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    jobset: t.field({
      type: JobsetRef,
      nullable: true,
      resolve: async (e) => loaded(e.loaders, await e.loaders.jobset.load(e.jobsetId)),
    }),
    jobsetId: t.exposeInt('jobsetId'),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
    checkoutTime: t.exposeInt('checkoutTime', { description: 'Seconds spent fetching inputs.' }),
    evalTime: t.exposeInt('evalTime', { description: 'Seconds spent evaluating.' }),
    hasNewBuilds: t.exposeBoolean('hasNewBuilds'),
    hash: t.exposeString('hash'),
    nrBuilds: t.exposeInt('nrBuilds', { nullable: true }),
    nrSucceeded: t.exposeInt('nrSucceeded', { nullable: true }),
    flake: t.exposeString('flake', { nullable: true }),
    evaluationErrorId: t.exposeInt('evaluationErrorId', { nullable: true }),
  }),
});

builder.queryField('evaluation', (t) =>
  t.field({
    type: EvaluationRef,
    nullable: true,
    description: 'An evaluation by id, or null when there is none.',
    args: { id: t.arg.int({ required: true }) },
    resolve: async (_, { id }, ctx) => loaded(ctx.loaders, await ctx.loaders.evaluation.load(id)),
  }),
);
