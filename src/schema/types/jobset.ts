/** `Jobset`: a jobset (`jobsets` row), and the `jobset(project, name)` query. */
import { loaded } from '../../hydra/loaders.js';
import { builder } from '../builder.js';
import { JobsetStateEnum, JobsetTypeEnum, known } from './enums.js';
import { JobsetRef, ProjectRef } from './refs.js';

JobsetRef.implement({
  description: 'A jobset: what Hydra evaluates, in a project.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    name: t.exposeString('name'),
    project: t.field({
      type: ProjectRef,
      nullable: true,
      resolve: async (j) => loaded(j.loaders, await j.loaders.project.load(j.project)),
    }),
    projectName: t.exposeString('project', { description: 'The project name, even when the row is gone.' }),
    enabled: t.boolean({ resolve: (j) => j.enabled !== 0 }),
    state: t.field({
      type: JobsetStateEnum,
      nullable: true,
      resolve: (j) => known({ a: 0, b: 1, c: 2, d: 3 }, j.enabled) as 0 | 1 | 2 | 3 | null,
    }),
    errorMsg: t.exposeString('errorMsg', { nullable: true }),
    errorTime: t.expose('errorTime', { type: 'DateTime', nullable: true }),
    lastCheckedTime: t.expose('lastCheckedTime', { type: 'DateTime', nullable: true }),
    triggerTime: t.expose('triggerTime', { type: 'DateTime', nullable: true }),
    checkInterval: t.exposeInt('checkInterval', { description: 'Seconds between evaluations; 0 disables polling.' }),
    schedulingShares: t.exposeInt('schedulingShares'),
    type: t.field({ type: JobsetTypeEnum, nullable: true, resolve: (j) => known({ a: 0, b: 1 }, j.type) as 0 | 1 | null }),
    flake: t.exposeString('flake', { nullable: true }),
    nixExprInput: t.exposeString('nixExprInput', { nullable: true }),
    nixExprPath: t.exposeString('nixExprPath', { nullable: true }),
    emailOverride: t.exposeString('emailOverride'),
  }),
});

builder.queryField('jobset', (t) =>
  t.field({
    type: JobsetRef,
    nullable: true,
    description: 'A jobset by project and name, or null when there is none.',
    args: { project: t.arg.string({ required: true }), name: t.arg.string({ required: true }) },
    resolve: async (_, key, ctx) => loaded(ctx.loaders, await ctx.loaders.jobsetByName.load(key)),
  }),
);
