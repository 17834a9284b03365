/**
 * `acknowledgeBuildFinished` and `acknowledgeBuildsFinished` over real HTTP
 * against a real gateway: the compare-and-set on
 * `builds.notificationpendingsince` and each of its outcomes (ACKNOWLEDGED,
 * ALREADY_ACKNOWLEDGED, STALE after a restart and a second finish,
 * NOT_FINISHED, and NOT_FOUND as a GraphQL error), checked against the
 * column with SQL; DateTimes Hydra cannot hold are rejected before anything
 * is written; 100 concurrent acknowledgements of one occurrence clear it
 * exactly once; the batch form answers item by item in order (a null and an
 * error at the index of an unknown build, duplicates seen in order, at most
 * 1,000 items); and the gateway writes no column of `builds` but
 * `notificationpendingsince`.
 */
import { describe, expect } from 'vitest';
import { AcknowledgeBuildFinishedDocument, AcknowledgeBuildsFinishedDocument } from '../src/client/generated/operations.js';
import { request, requestData } from './support/clients.js';
import { test as base } from './support/fixtures.js';
import { finishBuilds, insertBuild, restartBuild } from './support/hydra.js';

/** Fixed instants (2027-01-15 and a minute later): whole seconds, as Hydra stores them. */
const T1 = 1_800_000_000;
const T2 = T1 + 60;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** This file's helpers, each a fixture bound to the file's database, gateway and jobset. */
const test = base
  /** A build finished at `stopTime`, pending since then. */
  .extend('pendingBuild', async ({ db, jobsetId }) => async (stopTime = T1): Promise<number> => {
    const id = await insertBuild(db.pool, jobsetId);
    await finishBuilds(db.pool, [id], { stopTime });
    return id;
  })
  /** A build finished at T1, restarted and finished again at T2: pending since T2, so T1 is another occurrence. */
  .extend('staleBuild', async ({ db, pendingBuild }) => async (): Promise<number> => {
    const id = await pendingBuild(T1);
    await restartBuild(db.pool, id);
    await finishBuilds(db.pool, [id], { stopTime: T2 });
    return id;
  })
  /** The build's notificationpendingsince, straight from the table. */
  .extend('pendingOf', async ({ db }) => async (id: number): Promise<number | null> => {
    const { rows } = await db.pool.query('SELECT notificationpendingsince AS p FROM builds WHERE id = $1', [id]);
    expect(rows).toHaveLength(1);
    return rows[0].p === null ? null : Number(rows[0].p);
  })
  .extend(
    'ack',
    async ({ gateway }) =>
      async (buildId: number, pendingSince: string) =>
        (await requestData(gateway.url, AcknowledgeBuildFinishedDocument, { buildId, pendingSince })).acknowledgeBuildFinished,
  )
  .extend(
    'ackBatch',
    async ({ gateway }) =>
      async (items: { buildId: number; pendingSince: string }[]) =>
        request(gateway.url, AcknowledgeBuildsFinishedDocument, { items }),
  )
  /** An id no build has. */
  .extend('unknownId', async ({ db }) => async (): Promise<number> => {
    const { rows } = await db.pool.query('SELECT coalesce(max(id), 0) + 1000 AS id FROM builds');
    return Number(rows[0].id);
  });

describe('acknowledgeBuildFinished', () => {
  test('ACKNOWLEDGED clears the column; a second call is ALREADY_ACKNOWLEDGED', async ({ pendingBuild, pendingOf, ack }) => {
    const id = await pendingBuild();
    expect(await ack(id, iso(T1))).toEqual({
      buildId: id,
      outcome: 'ACKNOWLEDGED',
      pendingSince: null,
      build: { id, notificationPendingSince: null },
    });
    expect(await pendingOf(id)).toBeNull();

    expect(await ack(id, iso(T1))).toEqual({
      buildId: id,
      outcome: 'ALREADY_ACKNOWLEDGED',
      pendingSince: null,
      build: { id, notificationPendingSince: null },
    });
    expect(await pendingOf(id)).toBeNull();
  });

  test('accepts pendingSince in any time zone offset', async ({ pendingBuild, pendingOf, ack }) => {
    const id = await pendingBuild();
    // T1 is 2027-01-15T08:00:00Z.
    expect(iso(T1)).toBe('2027-01-15T08:00:00.000Z');
    expect((await ack(id, '2027-01-15T09:00:00+01:00')).outcome).toBe('ACKNOWLEDGED');
    expect(await pendingOf(id)).toBeNull();
  });

  test('STALE after a restart and a second finish; the newer occurrence is then ACKNOWLEDGED', async ({ staleBuild, pendingOf, ack }) => {
    const id = await staleBuild();
    expect(await pendingOf(id)).toBe(T2);

    expect(await ack(id, iso(T1))).toEqual({
      buildId: id,
      outcome: 'STALE',
      pendingSince: iso(T2),
      build: { id, notificationPendingSince: iso(T2) },
    });
    expect(await pendingOf(id)).toBe(T2);

    expect(await ack(id, iso(T2))).toMatchObject({ outcome: 'ACKNOWLEDGED', pendingSince: null });
    expect(await pendingOf(id)).toBeNull();
  });

  test('NOT_FINISHED for a queued build, and for a restarted one whose old finish is still pending; the column is untouched', async ({
    db,
    jobsetId,
    pendingBuild,
    pendingOf,
    ack,
  }) => {
    const queued = await insertBuild(db.pool, jobsetId);
    expect(await ack(queued, iso(T1))).toMatchObject({ buildId: queued, outcome: 'NOT_FINISHED', pendingSince: null });
    expect(await pendingOf(queued)).toBeNull();

    // Hydra's restart leaves notificationpendingsince as it was.
    const restarted = await pendingBuild(T1);
    await restartBuild(db.pool, restarted);
    expect(await ack(restarted, iso(T1))).toMatchObject({ buildId: restarted, outcome: 'NOT_FINISHED', pendingSince: iso(T1) });
    expect(await pendingOf(restarted)).toBe(T1);
  });

  test('NOT_FOUND is a GraphQL error, with data null', async ({ gateway, unknownId }) => {
    const id = await unknownId();
    const result = await request(gateway.url, AcknowledgeBuildFinishedDocument, { buildId: id, pendingSince: iso(T1) });
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]).toMatchObject({
      message: `no build with id ${id}`,
      path: ['acknowledgeBuildFinished'],
      extensions: { code: 'NOT_FOUND' },
    });
  });

  test('rejects fractional seconds as BAD_USER_INPUT and clears nothing', async ({ gateway, pendingBuild, pendingOf }) => {
    const id = await pendingBuild(T1);
    const result = await request(gateway.url, AcknowledgeBuildFinishedDocument, { buildId: id, pendingSince: '2027-01-15T08:00:00.500Z' });
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors![0]!.message).toMatch(/whole seconds/);
    expect(await pendingOf(id)).toBe(T1);
  });

  test.for<[string, string]>([
    ['a word', 'yesterday'],
    ['a date without a time', '2027-01-15'],
    ['a time without a zone', '2027-01-15T08:00:00'],
    ['a space instead of T', '2027-01-15 08:00:00Z'],
    ['an hour out of range', '2027-01-15T25:00:00Z'],
    ['Unix seconds as a string', String(T1)],
  ])(
    'rejects %s (an invalid DateTime), naming ISO 8601, and clears nothing',
    async ([, pendingSince], { gateway, pendingBuild, pendingOf }) => {
      const id = await pendingBuild(T1);
      const result = await request(gateway.url, AcknowledgeBuildFinishedDocument, { buildId: id, pendingSince });
      expect(result.data ?? null).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors![0]!.message).toMatch(/pendingSince/);
      expect(result.errors![0]!.message).toMatch(/ISO 8601|not a valid date/);
      expect(await pendingOf(id)).toBe(T1);
    },
  );

  test('rejects an instant beyond what Hydra can store (32-bit seconds) as BAD_USER_INPUT', async ({
    gateway,
    pendingBuild,
    pendingOf,
    ack,
  }) => {
    const id = await pendingBuild(T1);
    for (const pendingSince of ['2038-01-19T03:14:08Z', '2100-01-01T00:00:00Z', '1901-12-13T20:45:51Z']) {
      const result = await request(gateway.url, AcknowledgeBuildFinishedDocument, { buildId: id, pendingSince });
      expect(result.data ?? null).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.message).toMatch(/32-bit/);
    }
    // The last and first second Hydra can hold are ordinary (here: another occurrence, so STALE).
    for (const pendingSince of ['2038-01-19T03:14:07Z', '1901-12-13T20:45:52Z']) {
      expect(await ack(id, pendingSince)).toMatchObject({ outcome: 'STALE', pendingSince: iso(T1) });
    }
    expect(await pendingOf(id)).toBe(T1);
  });

  test('60 concurrent acknowledgements of different builds and outcomes, sharing statements, are each answered as if alone', async ({
    db,
    jobsetId,
    pendingBuild,
    staleBuild,
    pendingOf,
    ack,
  }) => {
    const pending = await Promise.all(Array.from({ length: 40 }, () => pendingBuild(T1)));
    const stale = await Promise.all(Array.from({ length: 10 }, () => staleBuild()));
    const queued = await Promise.all(Array.from({ length: 10 }, () => insertBuild(db.pool, jobsetId)));
    const calls = [...pending, ...stale, ...queued].map((id, i) => ({ id, i })).sort((a, b) => ((a.i * 37) % 60) - ((b.i * 37) % 60));
    const answers = new Map(await Promise.all(calls.map(async ({ id }) => [id, await ack(id, iso(T1))] as const)));
    for (const id of pending) expect(answers.get(id)).toMatchObject({ outcome: 'ACKNOWLEDGED', pendingSince: null });
    for (const id of stale) expect(answers.get(id)).toMatchObject({ outcome: 'STALE', pendingSince: iso(T2) });
    for (const id of queued) expect(answers.get(id)).toMatchObject({ outcome: 'NOT_FINISHED' });
    for (const id of pending) expect(await pendingOf(id)).toBeNull();
    for (const id of stale) expect(await pendingOf(id)).toBe(T2);
  });

  test('100 concurrent acknowledgements of one occurrence: exactly one ACKNOWLEDGED, 99 ALREADY_ACKNOWLEDGED', async ({
    pendingBuild,
    pendingOf,
    ack,
  }) => {
    const id = await pendingBuild(T1);
    const results = await Promise.all(Array.from({ length: 100 }, () => ack(id, iso(T1))));
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'ACKNOWLEDGED')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'ALREADY_ACKNOWLEDGED')).toHaveLength(99);
    for (const r of results) expect(r).toMatchObject({ buildId: id, pendingSince: null, build: { notificationPendingSince: null } });
    expect(await pendingOf(id)).toBeNull();
  });
});

describe('acknowledgeBuildsFinished', () => {
  test('answers mixed items in order; an unknown build is null at its index with a NOT_FOUND error there', async ({
    db,
    jobsetId,
    pendingBuild,
    staleBuild,
    pendingOf,
    ackBatch,
    unknownId,
  }) => {
    const acked = await pendingBuild(T1);
    const stale = await staleBuild();
    const queued = await insertBuild(db.pool, jobsetId);
    const done = await pendingBuild(T1);
    await db.pool.query('UPDATE builds SET notificationpendingsince = NULL WHERE id = $1', [done]);
    const unknown = await unknownId();
    const second = await pendingBuild(T2);

    const result = await ackBatch([
      { buildId: acked, pendingSince: iso(T1) },
      { buildId: unknown, pendingSince: iso(T1) },
      { buildId: stale, pendingSince: iso(T1) },
      { buildId: queued, pendingSince: iso(T1) },
      { buildId: done, pendingSince: iso(T1) },
      { buildId: second, pendingSince: iso(T2) },
    ]);
    expect(result.data?.acknowledgeBuildsFinished).toEqual([
      { buildId: acked, outcome: 'ACKNOWLEDGED', pendingSince: null },
      null,
      { buildId: stale, outcome: 'STALE', pendingSince: iso(T2) },
      { buildId: queued, outcome: 'NOT_FINISHED', pendingSince: null },
      { buildId: done, outcome: 'ALREADY_ACKNOWLEDGED', pendingSince: null },
      { buildId: second, outcome: 'ACKNOWLEDGED', pendingSince: null },
    ]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]).toMatchObject({
      message: `no build with id ${unknown}`,
      path: ['acknowledgeBuildsFinished', 1],
      extensions: { code: 'NOT_FOUND' },
    });
    expect(await pendingOf(acked)).toBeNull();
    expect(await pendingOf(second)).toBeNull();
    expect(await pendingOf(stale)).toBe(T2);
  });

  test('answers duplicate identical items in order: the first ACKNOWLEDGED, the second ALREADY_ACKNOWLEDGED', async ({
    pendingBuild,
    ackBatch,
  }) => {
    // Several builds, so that a plan picking an arbitrary duplicate would show.
    for (let round = 0; round < 5; round++) {
      const a = await pendingBuild(T1);
      const b = await pendingBuild(T2);
      const result = await ackBatch([
        { buildId: a, pendingSince: iso(T1) },
        { buildId: b, pendingSince: iso(T2) },
        { buildId: a, pendingSince: iso(T1) },
        { buildId: b, pendingSince: iso(T2) },
      ]);
      expect(result.errors).toBeUndefined();
      expect(result.data!.acknowledgeBuildsFinished.map((r) => [r!.buildId, r!.outcome])).toEqual([
        [a, 'ACKNOWLEDGED'],
        [b, 'ACKNOWLEDGED'],
        [a, 'ALREADY_ACKNOWLEDGED'],
        [b, 'ALREADY_ACKNOWLEDGED'],
      ]);
    }
  });

  test('answers duplicates in order in a large batch too (500 builds, each twice)', async ({ db, jobsetId, ackBatch }) => {
    const { rows } = await db.pool.query(
      `INSERT INTO builds (finished, timestamp, jobset_id, job, drvpath, system, starttime, stoptime, buildstatus, notificationpendingsince)
       SELECT 1, $1, $2, 'many' || g, '/nix/store/' || g || '-many.drv', 'x86_64-linux', $1 - 10, $1, 0, $1
       FROM generate_series(1, 500) g RETURNING id`,
      [T1, jobsetId],
    );
    await db.pool.query('ANALYZE builds');
    const items = rows.map((r: { id: number }) => ({ buildId: Number(r.id), pendingSince: iso(T1) }));
    const result = await ackBatch([...items, ...items]);
    expect(result.errors).toBeUndefined();
    const outcomes = result.data!.acknowledgeBuildsFinished.map((r) => r!.outcome);
    expect(outcomes.slice(0, 500).every((o) => o === 'ACKNOWLEDGED')).toBe(true);
    expect(outcomes.slice(500).every((o) => o === 'ALREADY_ACKNOWLEDGED')).toBe(true);
  });

  test('takes 1,000 items (one occurrence 1,000 times: the first clears it)', async ({ pendingBuild, pendingOf, ackBatch }) => {
    const id = await pendingBuild(T1);
    const result = await ackBatch(Array.from({ length: 1000 }, () => ({ buildId: id, pendingSince: iso(T1) })));
    expect(result.errors).toBeUndefined();
    const outcomes = result.data!.acknowledgeBuildsFinished.map((r) => r!.outcome);
    expect(outcomes[0]).toBe('ACKNOWLEDGED');
    expect(outcomes.slice(1).every((o) => o === 'ALREADY_ACKNOWLEDGED')).toBe(true);
    expect(await pendingOf(id)).toBeNull();
  });

  test('rejects more than 1,000 items as LIMIT_EXCEEDED (HNG_MAX_ACK_BATCH) and clears nothing', async ({
    pendingBuild,
    pendingOf,
    ackBatch,
  }) => {
    const id = await pendingBuild(T1);
    const result = await ackBatch(Array.from({ length: 1001 }, () => ({ buildId: id, pendingSince: iso(T1) })));
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]).toMatchObject({
      path: ['acknowledgeBuildsFinished'],
      extensions: { code: 'LIMIT_EXCEEDED', setting: 'HNG_MAX_ACK_BATCH' },
    });
    expect(await pendingOf(id)).toBe(T1);
  });

  test('rejects the whole batch when one pendingSince has fractional seconds, clearing nothing', async ({
    pendingBuild,
    pendingOf,
    ackBatch,
  }) => {
    const a = await pendingBuild(T1);
    const b = await pendingBuild(T1);
    const result = await ackBatch([
      { buildId: a, pendingSince: iso(T1) },
      { buildId: b, pendingSince: '2027-01-15T08:00:00.001Z' },
    ]);
    expect(result.data ?? null).toBeNull();
    expect(result.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors![0]!.message).toMatch(/whole seconds/);
    expect(await pendingOf(a)).toBe(T1);
    expect(await pendingOf(b)).toBe(T1);
  });

  test('answers an empty batch with an empty list', async ({ ackBatch }) => {
    expect(await ackBatch([])).toEqual({ data: { acknowledgeBuildsFinished: [] } });
  });
});

describe('what the gateway writes', () => {
  test('changes no column of builds but notificationpendingsince, and no other row', async ({
    db,
    jobsetId,
    pendingBuild,
    staleBuild,
    ack,
    ackBatch,
  }) => {
    const acked = await pendingBuild(T1);
    const stale = await staleBuild();
    const queued = await insertBuild(db.pool, jobsetId);
    const restarted = await pendingBuild(T1);
    await restartBuild(db.pool, restarted);
    const batched = await pendingBuild(T2);
    const mine = [acked, stale, queued, restarted, batched];

    const snapshot = async () => {
      const { rows } = await db.pool.query(`SELECT id, to_jsonb(b) AS row FROM builds b ORDER BY id`);
      return new Map(rows.map((r: { id: number; row: Record<string, unknown> }) => [Number(r.id), r.row]));
    };
    const without = (row: Record<string, unknown>) => {
      const { notificationpendingsince: _, ...rest } = row;
      return rest;
    };
    const before = await snapshot();

    await ack(acked, iso(T1));
    await ack(stale, iso(T1));
    await ack(queued, iso(T1));
    await ack(restarted, iso(T1));
    await ackBatch([
      { buildId: batched, pendingSince: iso(T2) },
      { buildId: stale, pendingSince: iso(T1) },
      { buildId: acked, pendingSince: iso(T1) },
    ]);
    await Promise.all(Array.from({ length: 10 }, () => ack(stale, iso(T2))));

    const after = await snapshot();
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [id, row] of after) {
      expect(without(row), `build ${id}`).toEqual(without(before.get(id)!));
      if (!mine.includes(id)) expect(row.notificationpendingsince, `build ${id}`).toEqual(before.get(id)!.notificationpendingsince);
    }
    expect(Object.fromEntries(mine.map((id) => [id, after.get(id)!.notificationpendingsince]))).toEqual({
      [acked]: null,
      [stale]: null,
      [queued]: null,
      [restarted]: T1,
      [batched]: null,
    });
  });
});
