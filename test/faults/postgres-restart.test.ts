/**
 * Postgres restarted under steady load, with a fast and then an immediate
 * shutdown, on a Postgres of this file's own (support/postgres.ts). Two
 * gateway instances (in-process: they survive; it is the database that goes)
 * and four subscribers, graphql-ws and SSE on each. A writer commits
 * builds_added three per transaction (NOTIFY statements and pg_notify
 * alternately) and finishes a build every tenth, with a row of its own in
 * the same transaction (`fault_sent`), so that what committed, and when, is
 * known after the fact, even for a transaction whose COMMIT was cut off.
 *
 * What must hold: the subscribers keep their sockets and receive every
 * journaled event once, in order (a gap included); the journal holds every
 * committed notification once, except those committed while no instance could
 * hear; each restart is exactly one gap row whose window lies within the
 * outage (from the last heartbeat before the stop to the first LISTEN after
 * the start); every finished build is in the consumer's pending set, the ones
 * whose notification fell into the gap recovered from Hydra's table.
 */
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { inTransaction } from '../../src/db/transaction.js';
import { requestData, until } from '../support/clients.js';
import { CREATE, PENDING } from '../support/consumers.js';
import { recordingGateway } from '../support/fixtures.js';
import { onCleanup, startTestGateway, type TestGateway } from '../support/gateway.js';
import { finishBuilds, insertBuildsOneByOne, seedJobset } from '../support/hydra.js';
import { report } from './support/figures.js';
import { type Outage, startRestartablePostgres } from './support/postgres.js';
import { compareWithJournal, Subscriber } from './support/subscribers.js';
import { readJournal } from '../support/journal.js';

/** The recorder's heartbeat: how far before the stop a gap may start. */
const HEARTBEAT_MS = 200;
/** Fast reconnects and takeovers, so an outage is short. */
const FAST = { lockRetryMs: 100, heartbeatMs: HEARTBEAT_MS, reconnectGraceMs: 200, reconnectMinMs: 20, reconnectMaxMs: 200 } as const;
/** Gap bounds are on the database's clock as each instance measured it (half a round trip of error), and polling adds 10 ms. */
const SLACK_MS = 250;

/**
 * Commits builds_added, three per transaction, until stopped; every tenth
 * transaction also finishes one of `builds` and sends its build_finished.
 * A transaction that fails (the database is going or gone) is not retried:
 * the next one takes new ids, and `fault_sent` tells afterwards what committed.
 */
class Writer {
  next = 1;
  transactions = 0;
  failures = 0;
  private stopping = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly builds: number[],
  ) {
    this.done = this.run();
    onCleanup(() => this.stop());
  }

  private async run(): Promise<void> {
    for (let t = 0; !this.stopping; t++) {
      const ids = [this.next, this.next + 1, this.next + 2];
      this.next += 3;
      const finish = t % 10 === 5 ? this.builds.shift() : undefined;
      try {
        await inTransaction(this.pool, async (client) => {
          if (finish !== undefined) await finishBuilds(client, [finish]);
          for (const id of ids) {
            if (t % 2) await client.query('SELECT pg_notify($1, $2)', ['builds_added', String(id)]);
            else await client.query(`NOTIFY builds_added, '${id}'`);
          }
          if (finish !== undefined) await client.query(`NOTIFY build_finished, '${finish}'`);
          // Last, so that its time is the commit's, within a statement.
          await client.query('INSERT INTO fault_sent (id) SELECT unnest($1::int[])', [ids]);
        });
        this.transactions++;
      } catch {
        this.failures++;
        // The database is restarting: try again a little later.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /** Stops after the transaction in flight. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
  }
}

describe('Postgres restarted under steady load', () => {
  test('fast, then immediate: subscribers keep their sockets and miss nothing journaled; the gaps lie within the outages', async () => {
    const postgres = await startRestartablePostgres();
    const url = await postgres.createHydraDatabase('hydra');
    const pool = postgres.pool(url, 4);
    await pool.query('CREATE TABLE fault_sent (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    const jobsetId = await seedJobset(pool);
    const builds = await insertBuildsOneByOne(pool, jobsetId, 200);

    const a = await recordingGateway(url, { instance: 'a', ...FAST });
    const b = await startTestGateway(url, { instance: 'b', ...FAST });
    const gateways: TestGateway[] = [a, b];
    await requestData(a.url, CREATE, { name: 'release-sync' });
    const subscribers = gateways.flatMap((g) =>
      (['ws', 'sse'] as const).map((transport) => new Subscriber(`${g.instance}-${transport}`, transport, () => g.url)),
    );
    await until(() => a.hub.size === 2 && b.hub.size === 2, 10_000, 'two subscriptions on each instance');

    const writer = new Writer(pool, [...builds]);
    const outages: (Outage & { listening: Date })[] = [];
    for (const mode of ['fast', 'immediate'] as const) {
      // Steady load: well into the stream before each restart.
      const before = writer.transactions;
      await until(() => writer.transactions >= before + 300, 30_000, 'load before the restart');
      const reconnects = gateways.map((g) => g.listener.status.reconnects);
      const outage = await postgres.restart(mode);
      await until(
        () => gateways.every((g, i) => g.listener.status.connected && g.listener.status.reconnects > reconnects[i]!),
        20_000,
        `both instances listening again after the ${mode} restart`,
      );
      outages.push({ ...outage, listening: new Date() });
      await until(() => gateways.some((g) => g.recorder.recording), 10_000, 'an instance recording again');
    }
    const after = writer.transactions;
    await until(() => writer.transactions >= after + 300, 30_000, 'load after the restarts');
    await writer.stop();

    // The last committed transaction journaled, then everything journaled at every subscriber.
    const lastSent = Number((await pool.query('SELECT max(id) AS id FROM fault_sent')).rows[0].id);
    let end = 0;
    await until(
      () => end > 0 && subscribers.every((s) => s.position >= end),
      30_000,
      'the last notification journaled, and every subscriber at the end of the journal',
      async () => {
        const { rows } = await pool.query(
          `SELECT max(position) AS p FROM hydra_notify_gateway.journal WHERE EXISTS (
             SELECT 1 FROM hydra_notify_gateway.journal WHERE channel = 'builds_added' AND payload = $1)`,
          [String(lastSent)],
        );
        end = Number(rows[0].p ?? 0);
      },
    );
    const journal = await readJournal(pool);
    const sent = (await pool.query('SELECT id, at FROM fault_sent ORDER BY id')).rows.map((r) => ({ id: Number(r.id), at: r.at as Date }));
    const journaledIds = journal.filter((r) => r.kind === 'notification' && r.channel === 'builds_added').map((r) => Number(r.payload));
    const gaps = journal.filter((r) => r.kind === 'gap');

    // The journal: each committed notification at most once, in commit order; lost only inside a gap.
    const journaledSet = new Set(journaledIds);
    const inGap = (at: Date) =>
      gaps.some((g) => at.getTime() >= g.gapFrom!.getTime() - SLACK_MS && at.getTime() <= g.gapTo!.getTime() + SLACK_MS);
    const lost = sent.filter((s) => !journaledSet.has(s.id));
    const lostOutsideGaps = lost.filter((s) => !inGap(s.at));
    const sentIds = new Set(sent.map((s) => s.id));

    // Consumers: every finished build pending, once.
    const finished = (await pool.query('SELECT id FROM builds WHERE finished = 1 ORDER BY id')).rows.map((r) => Number(r.id));
    const pending = (await requestData(a.url, PENDING, { consumer: 'release-sync' })).pendingBuildFinished.edges.map((e) => e.node.id);
    const recovered = journal.filter((r) => r.kind === 'recovered').map((r) => Number(r.payload));
    const announced = new Set(
      journal.filter((r) => r.kind === 'notification' && r.channel === 'build_finished').map((r) => Number(r.payload)),
    );

    const comparisons = subscribers.map((s) => compareWithJournal(s, journal));
    report('postgres-restart', {
      writer: { transactions: writer.transactions, failedTransactions: writer.failures },
      notificationsCommitted: sent.length,
      notificationsJournaled: journaledIds.length,
      lostInsideGaps: lost.length - lostOutsideGaps.length,
      lostOutsideGaps: lostOutsideGaps.length,
      duplicatedInJournal: journaledIds.length - journaledSet.size,
      journalRows: journal.length,
      outages: outages.map((o, i) => ({
        mode: o.mode,
        stopMs: o.stopped.getTime() - o.stopping.getTime(),
        downMs: o.started.getTime() - o.stopped.getTime(),
        untilListeningMs: o.listening.getTime() - o.started.getTime(),
        gap: gaps[i]
          ? {
              startsBeforeStopMs: o.stopping.getTime() - gaps[i].gapFrom!.getTime(),
              endsAfterStartMs: gaps[i].gapTo!.getTime() - o.started.getTime(),
              lengthMs: gaps[i].gapTo!.getTime() - gaps[i].gapFrom!.getTime(),
            }
          : null,
      })),
      buildsFinished: finished.length,
      buildFinishedRecovered: recovered.length,
      recoveredAndAnnounced: recovered.filter((id) => announced.has(id)).length,
      consumerPending: pending.length,
      subscribers: comparisons,
    });

    expect(journaledIds.every((id) => sentIds.has(id))).toBe(true);
    expect(journaledIds.every((id, i) => i === 0 || id > journaledIds[i - 1]!)).toBe(true);
    expect(lostOutsideGaps.map((s) => s.id)).toEqual([]);
    // What is lost is bounded by the gaps, and they by the outages (below); the writer commits fast
    // enough that the outages' ~0.4 s hold about a tenth of a run on a quiet machine.
    expect(lost.length).toBeLessThan(sent.length / 4);

    // One gap per restart, each within its outage: from the last heartbeat before the stop to the first LISTEN after the start.
    expect(gaps).toHaveLength(outages.length);
    for (const [i, outage] of outages.entries()) {
      const gap = gaps[i]!;
      expect(gap.gapFrom!.getTime()).toBeGreaterThanOrEqual(outage.stopping.getTime() - HEARTBEAT_MS - SLACK_MS);
      expect(gap.gapFrom!.getTime()).toBeLessThanOrEqual(outage.stopped.getTime() + SLACK_MS);
      expect(gap.gapTo!.getTime()).toBeGreaterThanOrEqual(outage.started.getTime() - SLACK_MS);
      expect(gap.gapTo!.getTime()).toBeLessThanOrEqual(outage.listening.getTime() + SLACK_MS);
    }

    // Every subscriber: every journaled row once, in order, from the writer's first; on the socket it opened.
    for (const [i, s] of subscribers.entries()) {
      expect(comparisons[i]).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, resumes: 0 });
      expect(s.seen[0]!.position).toBe(journal[0]!.position);
      expect(s.seen.map((e) => [e.position, e.channel])).toEqual(journal.map((r) => [r.position, r.channel]));
      expect(s.seen.filter((e) => e.typename === 'GapEvent')).toHaveLength(gaps.length);
      expect(s.closeCodes).toEqual([]);
    }

    // Every finished build is pending for the consumer, once, recovered or announced.
    expect([...pending].sort((x, y) => x - y)).toEqual(finished);
    expect(finished.every((id) => announced.has(id) || recovered.includes(id))).toBe(true);
  }, 120_000);
});
