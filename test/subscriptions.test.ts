/**
 * Every subscription end to end: a real graphql-ws client subscribes to a
 * real gateway, a NOTIFY is sent the way Hydra sends it (inside a
 * transaction, both as a statement and through pg_notify), and the event
 * arrives typed, with the rows it names. Also: filters, rows that do not
 * exist, and malformed payloads that never reach a client.
 */
import { describe, expect } from 'vitest';
import {
  BuildFinishedDocument,
  BuildQueuedDocument,
  BuildStartedDocument,
  CachedBuildFinishedDocument,
  CachedBuildQueuedDocument,
  EvalAddedDocument,
  EvalCachedDocument,
  EvalFailedDocument,
  EvalStartedDocument,
  QueueChangedDocument,
  StepFinishedDocument,
  StepStartedDocument,
} from '../src/client/generated/operations.js';
import { subscribed, until } from './support/clients.js';
import { notify, transaction } from './support/database.js';
import { test } from './support/fixtures.js';
import { hasRecord } from './support/logs.js';
import { finishBuilds, insertBuild, insertEval, insertStep } from './support/hydra.js';

describe('evaluation events', () => {
  test('evalStarted carries the trace id and the jobset with its project', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, EvalStartedDocument);
    await notify(db.pool, [['eval_started', `183745.123456789.4242\t${jobsetId}`]]);
    const { evalStarted } = await stream.nextData();
    expect(evalStarted).toMatchObject({
      channel: 'eval_started',
      payload: `183745.123456789.4242\t${jobsetId}`,
      source: 'LIVE',
      traceId: '183745.123456789.4242',
      jobsetId,
      jobset: { id: jobsetId, name: 'trunk', project: { name: 'nixpkgs', displayName: 'nixpkgs' } },
    });
    expect(Date.parse(evalStarted.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  test('evalAdded carries the new evaluation, sent with pg_notify at the commit of the eval', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, EvalAddedDocument);
    const evalId = await insertEval(db.pool, jobsetId);
    await notify(db.pool, [['eval_added', `1.2.3\t${jobsetId}\t${evalId}`]], 'function');
    const { evalAdded } = await stream.nextData();
    expect(evalAdded).toMatchObject({
      traceId: '1.2.3',
      jobset: { name: 'trunk' },
      evaluationId: evalId,
      evaluation: { id: evalId, hasNewBuilds: true, checkoutTime: 3, evalTime: 7 },
    });
  });

  test('evalCached carries the previous evaluation', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, EvalCachedDocument);
    const evalId = await insertEval(db.pool, jobsetId);
    await notify(db.pool, [['eval_cached', `9.9.9\t${jobsetId}\t${evalId}`]]);
    expect((await stream.nextData()).evalCached).toMatchObject({ traceId: '9.9.9', evaluationId: evalId, evaluation: { id: evalId } });
  });

  test('evalFailed carries the jobset and its error', async ({ db, gateway, jobsetId }) => {
    await db.pool.query(`UPDATE jobsets SET errormsg = 'attribute missing', errortime = 1700000000 WHERE id = $1`, [jobsetId]);
    const stream = await subscribed(gateway, EvalFailedDocument);
    await notify(db.pool, [['eval_failed', `5.5.5\t${jobsetId}`]], 'function');
    expect((await stream.nextData()).evalFailed).toMatchObject({
      channel: 'eval_failed',
      traceId: '5.5.5',
      jobset: { name: 'trunk', errorMsg: 'attribute missing' },
    });
  });
});

describe('build and step events', () => {
  test('buildQueued arrives at the commit of the eval, one per new build, with the rows', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, BuildQueuedDocument);
    const [a, b] = await transaction(db.pool, async (tx) => {
      const a = await insertBuild(tx, jobsetId, { job: 'hello.x86_64-linux' });
      const b = await insertBuild(tx, jobsetId, { job: 'hello.aarch64-linux', system: 'aarch64-linux' });
      await tx.query(`NOTIFY build_queued, '${a}'`);
      await tx.query('SELECT pg_notify($1, $2)', ['build_queued', String(b)]);
      // Nothing is delivered before COMMIT: a notification committed later, on
      // another connection, arrives while these two are still held back.
      await notify(db.pool, [['build_queued', '2000000000']]);
      expect((await stream.nextData()).buildQueued).toMatchObject({ buildId: 2_000_000_000, build: null });
      expect(stream.buffered).toBe(0);
      return [a, b];
    });
    const [first, second] = await stream.take(2);
    expect(first!.buildQueued).toMatchObject({
      buildId: a,
      build: {
        id: a,
        job: 'hello.x86_64-linux',
        finished: false,
        buildStatus: null,
        jobset: { name: 'trunk', project: { name: 'nixpkgs' } },
        outputs: [{ name: 'out', path: `/nix/store/${a}-hello.x86_64-linux` }],
      },
    });
    expect(second!.buildQueued).toMatchObject({ buildId: b, build: { system: 'aarch64-linux' } });
  });

  test('buildStarted may repeat for one build and arrives each time', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, BuildStartedDocument);
    const id = await insertBuild(db.pool, jobsetId);
    await notify(db.pool, [['build_started', String(id)]]);
    await notify(db.pool, [['build_started', String(id)]], 'function');
    const events = await stream.take(2);
    expect(events.map((e) => e.buildStarted.buildId)).toEqual([id, id]);
    expect(events[0]!.buildStarted.build?.finished).toBe(false);
  });

  test('stepStarted carries the busy step row', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, StepStartedDocument);
    const id = await insertBuild(db.pool, jobsetId);
    await transaction(db.pool, async (tx) => {
      await insertStep(tx, id, 1);
      await tx.query(`NOTIFY step_started, '${id}\t1'`);
    });
    expect((await stream.nextData()).stepStarted).toMatchObject({
      buildId: id,
      stepNr: 1,
      build: { id },
      step: { stepNr: 1, busy: 'BUILDING', machine: 'builder1' },
    });
  });

  test('stepFinished carries the log path, and null for the legacy "-"', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, StepFinishedDocument);
    const id = await insertBuild(db.pool, jobsetId);
    await insertStep(db.pool, id, 1);
    await db.pool.query(`UPDATE buildsteps SET busy = 0, status = 0, stoptime = starttime + 5 WHERE build = $1`, [id]);
    await notify(db.pool, [['step_finished', `${id}\t1\t/nix/var/log/nix/drvs/ab/cdef.drv.bz2`]]);
    await notify(db.pool, [['step_finished', `${id}\t1\t-`]], 'function');
    const [withLog, legacy] = await stream.take(2);
    expect(withLog!.stepFinished).toMatchObject({
      buildId: id,
      stepNr: 1,
      logPath: '/nix/var/log/nix/drvs/ab/cdef.drv.bz2',
      step: { busy: 'NOT_BUSY', status: 'SUCCEEDED' },
    });
    expect(legacy!.stepFinished.logPath).toBeNull();
  });

  test('buildFinished carries the build, its pendingSince and its dependents', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, BuildFinishedDocument);
    const failed = await insertBuild(db.pool, jobsetId);
    const dep = await insertBuild(db.pool, jobsetId);
    const since = await finishBuilds(db.pool, [failed], { status: 1 });
    await finishBuilds(db.pool, [dep], { status: 2, stopTime: since });
    // The NOTIFY comes in a later transaction than the finish, as Hydra sends it.
    await notify(db.pool, [['build_finished', `${failed}\t${failed}\t${dep}`]]);
    const { buildFinished } = await stream.nextData();
    expect(buildFinished).toMatchObject({
      channel: 'build_finished',
      source: 'LIVE',
      chunks: 1,
      buildId: failed,
      selfListed: true,
      pendingSince: new Date(since * 1000).toISOString(),
      build: { id: failed, finished: true, buildStatus: 'FAILED' },
      dependentIds: [dep],
      dependents: [{ id: dep, buildStatus: 'DEPENDENCY_FAILED' }],
    });
  });

  test('cachedBuildQueued and cachedBuildFinished carry the evaluation and the build', async ({ db, gateway, jobsetId }) => {
    const queued = await subscribed(gateway, CachedBuildQueuedDocument);
    const finished = await subscribed(gateway, CachedBuildFinishedDocument);
    const evalId = await insertEval(db.pool, jobsetId);
    const open = await insertBuild(db.pool, jobsetId);
    const done = await insertBuild(db.pool, jobsetId);
    await finishBuilds(db.pool, [done]);
    await notify(db.pool, [
      ['cached_build_queued', `${evalId}\t${open}`],
      ['cached_build_finished', `${evalId}\t${done}`],
    ]);
    expect((await queued.nextData()).cachedBuildQueued).toMatchObject({
      evaluationId: evalId,
      evaluation: { id: evalId },
      build: { id: open, finished: false },
    });
    expect((await finished.nextData()).cachedBuildFinished).toMatchObject({ evaluationId: evalId, build: { id: done, finished: true } });
  });
});

describe('queueChanged', () => {
  test('names the channel of every payload-less and wake-up notification, in order', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, QueueChangedDocument);
    const id = await insertBuild(db.pool, jobsetId);
    await notify(db.pool, [
      ['builds_added', String(id)],
      ['builds_added', '?'],
      ['builds_restarted', ''],
      ['builds_cancelled', ''],
      ['builds_bumped', ''],
      ['builds_deleted', ''],
      ['jobsets_added', ''],
      ['jobsets_deleted', ''],
      ['jobset_scheduling_changed', ''],
      ['jobset_shares_changed', ''],
      ['hydra_notify_dump_metrics', ''],
    ]);
    const events = (await stream.take(11)).map((e) => e.queueChanged);
    expect(events.map((e) => e.kind)).toEqual([
      'BUILDS_ADDED',
      'BUILDS_ADDED',
      'BUILDS_RESTARTED',
      'BUILDS_CANCELLED',
      'BUILDS_BUMPED',
      'BUILDS_DELETED',
      'JOBSETS_ADDED',
      'JOBSETS_DELETED',
      'JOBSET_SCHEDULING_CHANGED',
      'JOBSET_SHARES_CHANGED',
      'HYDRA_NOTIFY_DUMP_METRICS',
    ]);
    expect(events[0]).toMatchObject({ lowestNewBuildId: id, build: { id } });
    expect(events[1]).toMatchObject({ payload: '?', lowestNewBuildId: null, build: null });
  });

  test('fires from the triggers on builds, and kinds selects channels', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, QueueChangedDocument, { kinds: ['BUILDS_BUMPED'] });
    const id = await insertBuild(db.pool, jobsetId);
    await db.pool.query('UPDATE builds SET globalpriority = 10 WHERE id = $1', [id]);
    expect((await stream.nextData()).queueChanged).toMatchObject({ kind: 'BUILDS_BUMPED', channel: 'builds_bumped', payload: '' });
  });
});

describe('filters', () => {
  test('selects by project, jobset, job, system and build id, ANDed', async ({ db, gateway, jobsetId, otherJobsetId }) => {
    const byProject = await subscribed(gateway, BuildQueuedDocument, { filter: { project: 'hydra' } });
    const byJobAndSystem = await subscribed(gateway, BuildQueuedDocument, { filter: { job: 'wanted', system: 'aarch64-linux' } });
    const byJobset = await subscribed(gateway, BuildQueuedDocument, { filter: { project: 'nixpkgs', jobset: 'trunk' } });
    const a = await insertBuild(db.pool, otherJobsetId, { job: 'wanted', system: 'x86_64-linux' });
    const b = await insertBuild(db.pool, jobsetId, { job: 'wanted', system: 'aarch64-linux' });
    const byId = await subscribed(gateway, BuildQueuedDocument, { filter: { buildId: b } });
    await notify(db.pool, [
      ['build_queued', String(a)],
      ['build_queued', String(b)],
    ]);
    expect((await byProject.nextData()).buildQueued.buildId).toBe(a);
    expect((await byJobAndSystem.nextData()).buildQueued.buildId).toBe(b);
    expect((await byJobset.nextData()).buildQueued.buildId).toBe(b);
    expect((await byId.nextData()).buildQueued.buildId).toBe(b);
    // A marker event proves nothing else was queued before it for each stream.
    const marker = await insertBuild(db.pool, otherJobsetId, { job: 'wanted', system: 'aarch64-linux' });
    await notify(db.pool, [['build_queued', String(marker)]]);
    expect((await byProject.nextData()).buildQueued.buildId).toBe(marker);
    expect((await byJobAndSystem.nextData()).buildQueued.buildId).toBe(marker);
  });

  test('matches build_finished by any of its dependents, and eval events by project', async ({ db, gateway, jobsetId, otherJobsetId }) => {
    const finished = await subscribed(gateway, BuildFinishedDocument, { filter: { buildId: 999_999 } });
    const evals = await subscribed(gateway, EvalStartedDocument, { filter: { project: 'hydra' } });
    const id = await insertBuild(db.pool, jobsetId);
    await notify(db.pool, [
      ['eval_started', `1.1.1\t${jobsetId}`],
      ['eval_started', `2.2.2\t${otherJobsetId}`],
      ['build_finished', `${id}\t${id}\t999999`],
    ]);
    expect((await evals.nextData()).evalStarted.traceId).toBe('2.2.2');
    expect((await finished.nextData()).buildFinished).toMatchObject({ buildId: id, dependentIds: [999_999], dependents: [null] });
  });

  test('excludes an event that does not name what the filter asks about', async ({ db, gateway, jobsetId }) => {
    const byJob = await subscribed(gateway, EvalStartedDocument, { filter: { job: 'anything' } });
    const all = await subscribed(gateway, EvalStartedDocument);
    await notify(db.pool, [['eval_started', `3.3.3\t${jobsetId}`]]);
    await all.nextData();
    // The unfiltered stream received the event, so the filtered one has seen it too.
    await until(() => gateway.pipeline.stats.published.get('eval_started')! > 0);
    expect(byJob.buffered).toBe(0);
  });
});

describe('missing rows and malformed payloads', () => {
  test('delivers an event whose row does not exist, with the row null', async ({ db, gateway }) => {
    const stream = await subscribed(gateway, BuildQueuedDocument);
    await notify(db.pool, [['build_queued', '2147483647']]);
    expect((await stream.nextData()).buildQueued).toEqual(expect.objectContaining({ buildId: 2147483647, build: null }));
  });

  test('drops a malformed payload: logged with channel and payload, counted, never sent to a client', async ({ db, gateway, jobsetId }) => {
    const stream = await subscribed(gateway, BuildQueuedDocument);
    const id = await insertBuild(db.pool, jobsetId);
    const errorsBefore = gateway.pipeline.stats.malformed.get('build_queued') ?? 0;
    await notify(db.pool, [
      ['build_queued', 'not-a-number'],
      ['build_queued', `${id}\t${id}`],
      ['build_queued', String(id)],
    ]);
    const { buildQueued } = await stream.nextData();
    expect(buildQueued.buildId).toBe(id);
    expect(stream.buffered).toBe(0);
    expect(gateway.pipeline.stats.malformed.get('build_queued')).toBe(errorsBefore + 2);
    expect(
      hasRecord(gateway.logs, 'dropped malformed notification', { level: 'warn', channel: 'build_queued', payload: 'not-a-number' }),
    ).toBe(true);
    const metrics = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
    // hydra-notify's name, without `_total`.
    expect(metrics).toContain(`\nnotify_event_error{channel="build_queued"} ${errorsBefore + 2}\n`);
  });
});
