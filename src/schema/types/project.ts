/** `Project`: a Hydra project (`projects` row). */
import { loaded } from '../../hydra/loaders.js';
import { builder } from '../builder.js';
import { ProjectRef } from './refs.js';

ProjectRef.implement({
  description: 'A Hydra project.',
  fields: (t) => ({
    name: t.exposeString('name'),
    displayName: t.exposeString('displayName'),
    description: t.exposeString('description', { nullable: true }),
    enabled: t.exposeBoolean('enabled'),
    hidden: t.exposeBoolean('hidden'),
    owner: t.exposeString('owner'),
    homepage: t.exposeString('homepage', { nullable: true }),
  }),
});

builder.queryField('project', (t) =>
  t.field({
    type: ProjectRef,
    nullable: true,
    description: 'A project by name, or null when there is none.',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_, { name }, ctx) => loaded(ctx.loaders, await ctx.loaders.project.load(name)),
  }),
);
