/**
 * The LISTEN connection is killed (`pg_terminate_backend` on its backend):
 * the gateway reconnects with backoff and LISTENs again, subscribers over
 * WebSocket and SSE stay connected and keep receiving, and the pending
 * `build_finished` whose notification was lost while no connection listened
 * is recovered from Hydra's table; one already announced live is not sent
 * again. /healthz stays 200 throughout; /readyz is 503 while the LISTEN
 * connection is down, and while the query pool cannot reach the database,
 * when /metrics still answers, without the gauges only the database can give.
 */
import { describe, expect } from 'vitest';
import { BuildFinishedDocument, BuildQueuedDocument } from '../src/client/generated/operations.js';
import { subscribeSse, subscribeWs, until, wsClient } from './support/clients.js';
import { admin, notify, transaction } from './support/database.js';
import { test } from './support/fixtures.js';
import { startTestGateway } from './support/gateway.js';
import { finishBuilds, insertBuild } from './support/hydra.js';
import { hasRecord } from './support/logs.js';
import { scrape } from './support/prometheus.js';

describe('a killed LISTEN connection', () => {
  test('is re-established; subscribers stay connected and receive what was lost and what follows', async ({ db, gateway, jobsetId }) => {
    const finishedWs = subscribeWs(wsClient(gateway.url), BuildFinishedDocument);
    const finishedSse = subscribeSse(gateway.url, BuildFinishedDocument);
    const queued = subscribeWs(wsClient(gateway.url), BuildQueuedDocument);
    await until(() => gateway.hub.size === 3, 10_000, 'three subscriptions');

    // Announced live before the kill: must not come again as RECOVERED.
    const announced = await insertBuild(db.pool, jobsetId);
    await finishBuilds(db.pool, [announced]);
    await notify(db.pool, [['build_finished', String(announced)]]);
    for (const stream of [finishedWs, finishedSse]) {
      expect((await stream.nextData()).buildFinished).toMatchObject({ buildId: announced, source: 'LIVE' });
    }

    // The build finishes and its NOTIFY is committed while the listener's backend is being killed.
    const lost = await insertBuild(db.pool, jobsetId);
    const pid = gateway.listener.status.backendPid;
    expect(pid).toBeGreaterThan(0);
    const since = await transaction(db.pool, async (client) => {
      const at = await finishBuilds(client, [lost], { status: 0 });
      await client.query(`NOTIFY build_finished, '${lost}'`);
      const { rows } = await client.query('SELECT pg_terminate_backend($1) AS killed', [pid]);
      expect(rows[0].killed).toBe(true);
      return at;
    });

    await until(() => gateway.listener.status.reconnects === 1 && gateway.listener.status.connected, 10_000, 'reconnected');
    expect(gateway.listener.status.backendPid).not.toBe(pid);

    for (const stream of [finishedWs, finishedSse]) {
      const { buildFinished } = await stream.nextData();
      expect(buildFinished).toMatchObject({
        buildId: lost,
        source: 'RECOVERED',
        pendingSince: new Date(since * 1000).toISOString(),
        build: { id: lost, finished: true },
      });
    }

    // Live events flow again on the same subscriptions.
    const after = await insertBuild(db.pool, jobsetId);
    await notify(db.pool, [['build_queued', String(after)]], 'function');
    expect((await queued.nextData()).buildQueued.buildId).toBe(after);
    await finishBuilds(db.pool, [after]);
    await notify(db.pool, [['build_finished', String(after)]]);
    for (const stream of [finishedWs, finishedSse]) {
      expect((await stream.nextData()).buildFinished).toMatchObject({ buildId: after, source: 'LIVE' });
      expect(stream.ended).toBe(false);
    }
    expect(hasRecord(gateway.logs, 'listener connection lost', { level: 'warn', component: 'listener' })).toBe(true);
    const metrics = await scrape(gateway.url);
    expect(metrics.value('hng_listener_reconnects_total')).toBe(1);
    expect(metrics.value('hng_listener_connected')).toBe(1);
    // The window nobody listened, and the finish read back from Hydra's table after it.
    expect(metrics.value('hng_journal_gaps_total')).toBe(1);
    expect(metrics.value('hng_build_finished_recovered_total')).toBe(1);
  });

  test('keeps retrying with backoff while the database refuses it', async ({ db, gateway }) => {
    // Refuse new connections to this database, then kill the listener.
    await admin((c) => c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`));
    try {
      const before = gateway.listener.status.reconnects;
      await db.pool.query('SELECT pg_terminate_backend($1)', [gateway.listener.status.backendPid]);
      await until(() => gateway.logs.filter((l) => l.includes('listener reconnect failed')).length >= 2, 10_000, 'failed attempts');
      expect(gateway.listener.status.connected).toBe(false);
      expect((await scrape(gateway.url)).value('hng_listener_connected')).toBe(0);
      // Alive, but not ready: /readyz says why.
      expect((await fetch(gateway.url.replace('/graphql', '/healthz'))).status).toBe(200);
      const ready = await fetch(gateway.url.replace('/graphql', '/readyz'));
      expect(ready.status).toBe(503);
      expect(await ready.text()).toContain('LISTEN');
      await admin((c) => c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`));
      await until(() => gateway.listener.status.reconnects === before + 1, 10_000, 'reconnected');
      expect((await fetch(gateway.url.replace('/graphql', '/readyz'))).status).toBe(200);
    } finally {
      await admin((c) => c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`));
    }
  });
});

describe('a query pool that cannot reach the database', () => {
  test('leaves the gateway alive but not ready, and /metrics answering without what only the database knows', async ({ db }) => {
    // A gateway of its own, whose /metrics reads the database at every scrape.
    const gateway = await startTestGateway(db.url, { instance: 'pool-cut', metricsCacheMs: 0 });
    expect((await fetch(gateway.url.replace('/graphql', '/readyz'))).status).toBe(200);
    expect((await scrape(gateway.url)).value('hng_database_up')).toBe(1);
    await admin((c) => c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`));
    try {
      // The query pools' connections go (not the LISTEN connections): new ones are refused.
      await admin((c) =>
        c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'hydra-notify-gateway'`, [
          db.name,
        ]),
      );
      expect(gateway.listener.status.connected).toBe(true);
      expect((await fetch(gateway.url.replace('/graphql', '/healthz'))).status).toBe(200);
      const ready = await fetch(gateway.url.replace('/graphql', '/readyz'));
      expect(ready.status).toBe(503);
      expect(await ready.text()).toContain('the query pool cannot reach the database');

      const metrics = await scrape(gateway.url);
      expect(metrics.value('hng_database_up')).toBe(0);
      expect(metrics.families.has('hng_journal_head_position')).toBe(false);
      expect(metrics.families.has('hng_consumer_backlog')).toBe(false);
      expect(metrics.families.get('notify_event')?.type).toBe('counter');
      expect(metrics.value('hng_listener_connected')).toBe(1);
      expect(hasRecord(gateway.logs, 'metrics: could not read the journal and backlogs', { level: 'warn', component: 'metrics' })).toBe(
        true,
      );
    } finally {
      await admin((c) => c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`));
    }
    let ready = 0;
    await until(
      () => ready === 200,
      10_000,
      'ready again',
      async () => void (ready = (await fetch(gateway.url.replace('/graphql', '/readyz'))).status),
    );
    expect((await scrape(gateway.url)).value('hng_database_up')).toBe(1);
    expect(hasRecord(gateway.logs, 'metrics: reading the database works again', { level: 'info' })).toBe(true);
  });
});
