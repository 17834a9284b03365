/**
 * The simulator against a real Postgres: it must send Hydra's notifications, in Hydra's
 * formats, with the rows Hydra would have written; plus the schema's trigger channels and
 * the chunking of long build_finished payloads.
 */
import pg from 'pg';
import { describe, expect, test as base } from 'vitest';
import { CHANNELS, isChannel, type Channel } from '../src/hydra/channels.js';
import { installHydraSchema, missingHydraTables } from '../src/hydra/install.js';
import { parsePayload, PayloadError, type Notice } from '../src/hydra/payloads.js';
import { seededRandom } from '../src/simulator/dice.js';
import { buildFinishedPayloads, MAX_PAYLOAD_BYTES } from '../src/simulator/payloads.js';
import { startSimulator } from '../src/simulator/simulator.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

interface Received {
  channel: Channel;
  payload: string;
  notice: Notice | PayloadError;
}

/** LISTENs on every channel, recording notifications and resolving waiters. */
async function listenAll(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const received: Received[] = [];
  const waiters: { until: () => boolean; resolve: () => void }[] = [];
  client.on('notification', ({ channel, payload = '' }) => {
    if (!isChannel(channel)) throw new Error(`notification on unknown channel ${channel}`);
    received.push({ channel, payload, notice: parsePayload(channel, payload) });
    for (const waiter of [...waiters]) {
      if (waiter.until()) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  for (const channel of CHANNELS) await client.query(`listen ${channel}`);
  return {
    received,
    /** Resolves once `until` holds for what has arrived. */
    waitFor(until: () => boolean): Promise<void> {
      if (until()) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ until, resolve }));
    },
    close: () => client.end(),
  };
}

/** The file's own database, without any table: the schema is installed by the first test. */
const test = base.extend('db', { scope: 'file' }, async (): Promise<TestDatabase> => createTestDatabase({ empty: true }));

describe('installHydraSchema', () => {
  test('creates the tables once and reports none missing', async ({ db }) => {
    const client = await db.pool.connect();
    try {
      expect(await missingHydraTables(client)).toEqual([
        'builds',
        'buildsteps',
        'buildoutputs',
        'jobsets',
        'projects',
        'jobsetevals',
        'jobsetevalmembers',
      ]);
      expect(await installHydraSchema(client)).toBe(true);
      expect(await installHydraSchema(client)).toBe(false);
      expect(await missingHydraTables(client)).toEqual([]);
    } finally {
      client.release();
    }
  });
});

describe('startSimulator', () => {
  test('sends every Hydra notification, parseable, with the rows behind it', async ({ db }) => {
    const listener = await listenAll(db.url);
    const errors: string[] = [];
    const seen = (channel: Channel) => listener.received.some((r) => r.channel === channel);
    const selfListedFailure = () =>
      listener.received.some(
        (r) => r.notice instanceof PayloadError === false && r.notice.channel === 'build_finished' && r.notice.selfListed,
      );

    const simulator = await startSimulator(db.pool, {
      evalIntervalMs: 40,
      runnerIntervalMs: 25,
      random: seededRandom(42),
      log: (msg, fields) => {
        if (msg.includes('failed') && fields && 'error' in fields) errors.push(`${msg}: ${String(fields.error)}`);
      },
    });
    try {
      await listener.waitFor(
        () =>
          (
            [
              'jobsets_added',
              'eval_started',
              'eval_added',
              'eval_cached',
              'eval_failed',
              'build_queued',
              'builds_added',
              'step_started',
              'build_started',
              'step_finished',
              'build_finished',
            ] as const
          ).every(seen) &&
          (seen('cached_build_queued') || seen('cached_build_finished')) &&
          selfListedFailure(),
      );
    } finally {
      await simulator.stop();
    }
    await listener.close();

    expect(errors).toEqual([]);
    const malformed = listener.received.filter((r) => r.notice instanceof PayloadError);
    expect(malformed).toEqual([]);

    const finished = listener.received.flatMap((r) =>
      r.notice instanceof PayloadError || r.notice.channel !== 'build_finished' ? [] : [r.notice.buildId, ...r.notice.dependentIds],
    );
    expect(finished.length).toBeGreaterThan(0);
    const { rows } = await db.pool.query<{ id: number; finished: number; notificationpendingsince: number | null; stoptime: number }>(
      'select id, finished, notificationpendingsince, stoptime from builds where id = any($1::int[])',
      [finished],
    );
    expect(rows).toHaveLength(new Set(finished).size);
    for (const row of rows) {
      expect(row).toMatchObject({ finished: 1, notificationpendingsince: row.stoptime });
      expect(row.notificationpendingsince).not.toBeNull();
    }

    // Every queued build was announced, and eval_added names an eval of its jobset.
    const queued = listener.received.flatMap((r) =>
      r.notice instanceof PayloadError || r.notice.channel !== 'build_queued' ? [] : [r.notice.buildId],
    );
    const { rows: builds } = await db.pool.query<{ n: number }>('select count(*)::int as n from builds where id = any($1::int[])', [
      queued,
    ]);
    expect(builds[0]?.n).toBe(new Set(queued).size);
    for (const r of listener.received) {
      if (r.notice instanceof PayloadError || r.notice.channel !== 'eval_added') continue;
      const { rows: evals } = await db.pool.query('select 1 from jobsetevals where id = $1 and jobset_id = $2', [
        r.notice.evaluationId,
        r.notice.jobsetId,
      ]);
      expect(evals).toHaveLength(1);
      expect(r.notice.traceId).toMatch(/^\d+\.\d{9}\.\d+$/);
    }
  }, 60_000);

  test('is idempotent at restart: no second jobsets_added', async ({ db }) => {
    const listener = await listenAll(db.url);
    const simulator = await startSimulator(db.pool, { evalIntervalMs: 60_000, runnerIntervalMs: 60_000, log: () => {} });
    await simulator.stop();
    // A marker sent after seeding: everything before it has been delivered when it arrives.
    await db.pool.query("select pg_notify('hydra_notify_dump_metrics', '')");
    await listener.waitFor(() => listener.received.some((r) => r.channel === 'hydra_notify_dump_metrics'));
    await listener.close();
    expect(listener.received.filter((r) => r.channel === 'jobsets_added')).toEqual([]);
  }, 30_000);
});

describe('schema triggers', () => {
  test('notify the empty trigger channels', async ({ db }) => {
    const listener = await listenAll(db.url);
    const { rows } = await db.pool.query<{ id: number }>('select id from builds where finished = 1 order by id limit 1');
    const build = rows[0]!.id;
    await db.pool.query('update builds set finished = 0 where id = $1', [build]);
    await db.pool.query('update builds set globalpriority = globalpriority + 1 where id = $1', [build]);
    await db.pool.query('update builds set finished = 1, buildstatus = 4 where id = $1', [build]);
    await db.pool.query('delete from builds where id = $1', [build]);
    await db.pool.query("update jobsets set schedulingshares = 200 where project = 'nixpkgs' and name = 'trunk'");
    await db.pool.query("update jobsets set triggertime = 1 where project = 'nixpkgs' and name = 'trunk'");
    await db.pool.query("update jobsets set triggertime = null where project = 'nixpkgs' and name = 'trunk'");
    await db.pool.query("insert into jobsets (project, name, flake, type, emailoverride) values ('hydra', 'tmp', 'github:x/y', 1, '')");
    await db.pool.query("delete from jobsets where project = 'hydra' and name = 'tmp'");
    await db.pool.query("select pg_notify('hydra_notify_dump_metrics', '')");
    await listener.waitFor(() => listener.received.some((r) => r.channel === 'hydra_notify_dump_metrics'));
    await listener.close();
    expect(listener.received.map((r) => [r.channel, r.payload])).toEqual([
      ['builds_restarted', ''],
      ['builds_bumped', ''],
      ['builds_cancelled', ''],
      ['builds_deleted', ''],
      ['jobset_shares_changed', ''],
      ['jobset_scheduling_changed', ''],
      ['jobsets_added', ''],
      ['jobsets_deleted', ''],
      // The cascade from jobsets to builds fires the statement trigger on builds, even for no rows.
      ['builds_deleted', ''],
      ['hydra_notify_dump_metrics', ''],
    ]);
  }, 30_000);

  test('enforce the finished and resolved-step CHECKs', async ({ db }) => {
    const { rows } = await db.pool.query<{ id: number }>(
      "insert into builds (finished, timestamp, jobset_id, job, drvpath, system) select 0, 1, id, 'x', '/nix/store/x.drv', 'x86_64-linux' from jobsets limit 1 returning id",
    );
    const build = rows[0]!.id;
    await expect(db.pool.query('update builds set finished = 1, starttime = 0, stoptime = 5 where id = $1', [build])).rejects.toThrow(
      /check/,
    );
    await expect(
      db.pool.query("insert into buildsteps (build, stepnr, type, drvpath, busy, status) values ($1, 999, 0, '/nix/store/x.drv', 0, 13)", [
        build,
      ]),
    ).rejects.toThrow(/check/);
  });
});

describe('buildFinishedPayloads', () => {
  test('keeps a short payload whole, listing a failed build among its dependents', () => {
    expect(buildFinishedPayloads(2, [], false)).toEqual(['2']);
    expect(buildFinishedPayloads(2, [3, 4], true)).toEqual(['2\t2\t3\t4']);
    expect(buildFinishedPayloads(2, [3, 2, 3], false)).toEqual(['2\t3']);
  });

  test('splits 5,000 dependents into disjoint chunks under the limit', () => {
    const first = 1_000_000;
    const dependents = Array.from({ length: 5_000 }, (_, i) => 2_000_000 + i);
    const payloads = buildFinishedPayloads(first, dependents, true);
    expect(payloads.length).toBeGreaterThan(1);
    const union: number[] = [];
    let selfListed = 0;
    for (const payload of payloads) {
      expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
      expect(Buffer.byteLength(payload)).toBeLessThan(8000);
      const notice = parsePayload('build_finished', payload);
      if (notice instanceof PayloadError || notice.channel !== 'build_finished') throw notice;
      expect(notice.buildId).toBe(first);
      if (notice.selfListed) selfListed++;
      union.push(...notice.dependentIds);
    }
    expect(selfListed).toBe(1);
    expect(new Set(union).size).toBe(union.length);
    expect(union.sort((a, b) => a - b)).toEqual(dependents);
  });
});
