/** `Build`, `BuildStep` and `BuildOutput` (rows of `builds`, `buildsteps`, `buildoutputs`), and `build(id)`. */
import { loaded, loadedAll } from '../../hydra/loaders.js';
import { builder } from '../builder.js';
import { BUILD_STATUS, BUSY, BuildStatusEnum, BusyStatusEnum, known, StepTypeEnum } from './enums.js';
import { BuildOutputRef, BuildRef, BuildStepRef, JobsetRef } from './refs.js';

type StatusCode = (typeof BUILD_STATUS)[keyof typeof BUILD_STATUS];
type BusyCode = (typeof BUSY)[keyof typeof BUSY];

BuildRef.implement({
  description: 'A build: one job of one evaluation, queued, building or finished.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    finished: t.exposeBoolean('finished'),
    timestamp: t.expose('timestamp', { type: 'DateTime', description: 'When the build was queued.' }),
    jobset: t.field({ type: JobsetRef, nullable: true, resolve: async (b) => loaded(b.loaders, await b.loaders.jobset.load(b.jobsetId)) }),
    jobsetId: t.exposeInt('jobsetId'),
    job: t.exposeString('job'),
    nixName: t.exposeString('nixName', { nullable: true }),
    description: t.exposeString('description', { nullable: true }),
    drvPath: t.exposeString('drvPath'),
    system: t.exposeString('system'),
    priority: t.exposeInt('priority', { nullable: true }),
    globalPriority: t.exposeInt('globalPriority', { nullable: true }),
    startTime: t.expose('startTime', { type: 'DateTime', nullable: true }),
    stopTime: t.expose('stopTime', { type: 'DateTime', nullable: true }),
    isCachedBuild: t.exposeBoolean('isCachedBuild', { nullable: true }),
    buildStatus: t.field({
      type: BuildStatusEnum,
      nullable: true,
      description: 'Null while unfinished (or for a code this gateway does not know: see buildStatusCode).',
      resolve: (b) => known(BUILD_STATUS, b.buildStatus) as StatusCode | null,
    }),
    buildStatusCode: t.exposeInt('buildStatus', { nullable: true, description: "Hydra's raw buildstatus." }),
    size: t.exposeFloat('size', { nullable: true, description: 'Bytes.' }),
    closureSize: t.exposeFloat('closureSize', { nullable: true, description: 'Bytes.' }),
    releaseName: t.exposeString('releaseName', { nullable: true }),
    keep: t.exposeBoolean('keep', { nullable: true }),
    notificationPendingSince: t.expose('notificationPendingSince', {
      type: 'DateTime',
      nullable: true,
      description: 'Set while the build_finished of this finish has not been acknowledged.',
    }),
    steps: t.field({ type: [BuildStepRef], resolve: async (b) => loadedAll(b.loaders, await b.loaders.stepsOfBuild.load(b.id)) }),
    outputs: t.field({ type: [BuildOutputRef], resolve: async (b) => loadedAll(b.loaders, await b.loaders.outputsOfBuild.load(b.id)) }),
  }),
});

BuildStepRef.implement({
  description: 'One step of a build: building or substituting one derivation.',
  fields: (t) => ({
    build: t.field({ type: BuildRef, nullable: true, resolve: async (s) => loaded(s.loaders, await s.loaders.build.load(s.buildId)) }),
    buildId: t.exposeInt('buildId'),
    stepNr: t.exposeInt('stepNr'),
    type: t.field({ type: StepTypeEnum, nullable: true, resolve: (s) => known({ a: 0, b: 1 }, s.type) as 0 | 1 | null }),
    drvPath: t.exposeString('drvPath'),
    busy: t.field({ type: BusyStatusEnum, nullable: true, resolve: (s) => known(BUSY, s.busy) as BusyCode | null }),
    busyCode: t.exposeInt('busy'),
    status: t.field({ type: BuildStatusEnum, nullable: true, resolve: (s) => known(BUILD_STATUS, s.status) as StatusCode | null }),
    statusCode: t.exposeInt('status', { nullable: true }),
    errorMsg: t.exposeString('errorMsg', { nullable: true }),
    startTime: t.expose('startTime', { type: 'DateTime', nullable: true }),
    stopTime: t.expose('stopTime', { type: 'DateTime', nullable: true }),
    machine: t.exposeString('machine'),
    system: t.exposeString('system', { nullable: true }),
    propagatedFrom: t.field({
      type: BuildRef,
      nullable: true,
      resolve: async (s) => (s.propagatedFrom === null ? null : loaded(s.loaders, await s.loaders.build.load(s.propagatedFrom))),
    }),
    overhead: t.exposeInt('overhead', { nullable: true }),
    timesBuilt: t.exposeInt('timesBuilt', { nullable: true }),
    isNondeterministic: t.exposeBoolean('isNondeterministic', { nullable: true }),
    resolvedDrvPath: t.exposeString('resolvedDrvPath', { nullable: true }),
  }),
});

BuildOutputRef.implement({
  description: 'A named output of a build.',
  fields: (t) => ({
    name: t.exposeString('name'),
    path: t.exposeString('path', { nullable: true }),
  }),
});

builder.queryField('build', (t) =>
  t.field({
    type: BuildRef,
    nullable: true,
    description: 'A build by id, or null when there is none.',
    args: { id: t.arg.int({ required: true }) },
    resolve: async (_, { id }, ctx) => loaded(ctx.loaders, await ctx.loaders.build.load(id)),
  }),
);
