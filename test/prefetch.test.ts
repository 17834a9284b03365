/**
 * A live event's build row is loaded while its notification is journaled
 * (events/prefetch.ts), and the reader publishes its own recorder's rows
 * without reading them back (journal/reader.ts), against a real gateway, a
 * real graphql-ws client and the real Postgres: the row's statement goes out
 * while the journal write still waits, once, and the event is delivered with
 * that row; a channel nobody subscribes to loads nothing ahead; the prefetch
 * is bounded, expires what is not taken, and never hands over a failed load;
 * rows committed while a read runs are published once, in order, without a
 * second read.
 */
import pg from 'pg';
import { describe, expect } from 'vitest';
import { BuildStartedDocument } from '../src/client/generated/operations.js';
import type { Queryable } from '../src/db/queryable.js';
import { RowPrefetch } from '../src/events/prefetch.js';
import { JournalReader } from '../src/journal/reader.js';
import { silentLog } from '../src/log.js';
import { subscribeWs, until, wsClient } from './support/clients.js';
import { notify, watchStatements } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import type { TestGateway } from './support/gateway.js';
import { insertBuild } from './support/hydra.js';
import { notificationRow } from './support/journal.js';

const test = fixtures({ instance: 'prefetch' });

/** How many times the gateway's pool loaded build `id`'s row, from now on. */
function watchLoads(gateway: TestGateway): { loadsOf(id: number): number; restore(): void } {
  const { calls, restore } = watchStatements(gateway.pool);
  return {
    // One build is `buildWithJobset` (prepared), several `buildsWithJobsets` (an array).
    loadsOf: (id) =>
      calls.filter(
        (c) => (c.name === 'buildWithJobset' && c.first === id) || (c.name === 'buildsWithJobsets' && (c.first as number[]).includes(id)),
      ).length,
    restore,
  };
}

describe('a live event\u2019s build row', () => {
  test('is loaded while its journal write waits, once, and delivered with the event', async ({ db, gateway, jobsetId }) => {
    const stream = subscribeWs(wsClient(gateway.url), BuildStartedDocument);
    await until(() => gateway.hub.listens('build_started'), 10_000, 'a live build_started subscriber');
    const id = await insertBuild(db.pool, jobsetId, { job: 'early' });
    const statements = watchLoads(gateway);
    // The journal write advances the recorder's heartbeat in the same statement: holding that
    // row holds the write, and so the event, until this transaction ends.
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM hydra_notify_gateway.recorder FOR UPDATE');
      await notify(db.pool, [['build_started', String(id)]]);
      await until(() => statements.loadsOf(id) === 1, 10_000, 'the row loaded ahead of the journal write');
      expect(stream.buffered).toBe(0);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const { buildStarted } = await stream.nextData();
    expect(buildStarted.buildId).toBe(id);
    expect(buildStarted.build?.job).toBe('early');
    expect(statements.loadsOf(id)).toBe(1);
    statements.restore();
    stream.dispose();
  });

  test('is not loaded ahead for a channel no live subscriber wants', async ({ db, gateway, jobsetId }) => {
    const stream = subscribeWs(wsClient(gateway.url), BuildStartedDocument);
    await until(() => gateway.hub.listens('build_started'), 10_000, 'a live build_started subscriber');
    expect(gateway.hub.listens('build_queued')).toBe(false);
    const queued = await insertBuild(db.pool, jobsetId);
    const started = await insertBuild(db.pool, jobsetId);
    const statements = watchLoads(gateway);
    // In one transaction, in this order: by the time build_started arrives, build_queued was heard.
    await notify(db.pool, [
      ['build_queued', String(queued)],
      ['build_started', String(started)],
    ]);
    expect((await stream.nextData()).buildStarted.buildId).toBe(started);
    expect(statements.loadsOf(queued)).toBe(0);
    expect(statements.loadsOf(started)).toBe(1);
    statements.restore();
    stream.dispose();
  });
});

describe('RowPrefetch', () => {
  const started = (buildId: number) => ({ channel: 'build_started' as const, buildId });

  test('holds at most `max` sets, drops those not taken in time, and hands each over once', async ({ db, jobsetId }) => {
    const ids = [await insertBuild(db.pool, jobsetId), await insertBuild(db.pool, jobsetId), await insertBuild(db.pool, jobsetId)];
    const prefetch = new RowPrefetch({ db: db.pool, listens: () => true, max: 2, ttlMs: 60_000 });
    for (const id of ids) prefetch.heard(started(id));
    expect(prefetch.size).toBe(2);
    const set = prefetch.take(started(ids[0]!))!;
    expect((await set.build.load(ids[0]!))?.id).toBe(ids[0]);
    expect(prefetch.take(started(ids[0]!))).toBeUndefined();
    expect(prefetch.take(started(ids[2]!))).toBeUndefined();
    // Another channel's event of the same build is another event.
    expect(prefetch.take({ channel: 'build_queued', buildId: ids[1]! })).toBeUndefined();

    const expiring = new RowPrefetch({ db: db.pool, listens: () => true, ttlMs: 0 });
    expiring.heard(started(ids[0]!));
    await db.pool.query('SELECT 1'); // time passes
    expect(expiring.take(started(ids[0]!))).toBeUndefined();
  });

  test('loads nothing when nobody listens, and never hands over a set whose load failed', async ({ db, jobsetId }) => {
    const id = await insertBuild(db.pool, jobsetId);
    let sent = 0;
    const counting: Queryable = {
      query: (text, values) => {
        sent++;
        return db.pool.query(text as string, values);
      },
    };
    const deaf = new RowPrefetch({ db: counting, listens: () => false });
    deaf.heardPayload('build_started', String(id));
    deaf.heard(started(id));
    expect(deaf.size).toBe(0);
    expect(sent).toBe(0);

    const closed = new pg.Pool({ connectionString: db.url });
    await closed.end();
    const failing = new RowPrefetch({ db: closed, listens: () => true });
    failing.heard(started(id));
    expect(failing.size).toBe(1);
    await until(() => failing.size === 0, 10_000, 'the failed set dropped');
    expect(failing.take(started(id))).toBeUndefined();
  });
});

describe('the reader', () => {
  test('publishes its recorder\u2019s rows committed during a read once, in order, without reading them again', async ({ db }) => {
    const sent: string[] = [];
    const counting: Queryable = {
      query: (text, values) => {
        const sql = typeof text === 'string' ? text : text.text;
        sent.push(/\/\* (\w+) \*\//.exec(sql)?.[1] ?? sql);
        return db.pool.query(text as string, values);
      },
    };
    const accepted: number[] = [];
    const reader = new JournalReader({
      db: counting,
      log: silentLog,
      pollMs: 3_600_000,
      sink: { startAt: () => {}, accept: (row) => void accepted.push(row.position) },
    });
    await reader.start();
    const start = reader.position;
    const row = (position: number) => notificationRow(position, 'build_started', String(position));
    sent.length = 0;
    reader.hint(); // a read starts: the journal holds nothing after `start`
    reader.committed([row(start + 1), row(start + 2)]);
    reader.committed([row(start + 3)]);
    await until(() => accepted.length === 3, 10_000, 'the held rows published');
    expect(accepted).toEqual([start + 1, start + 2, start + 3]);
    expect(sent.filter((name) => name === 'journalAfter')).toHaveLength(1);
    reader.stop();
  });
});
