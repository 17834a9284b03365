/**
 * A gateway's `close()`, on a real database with real clients: every step
 * runs even when one fails, so a gateway whose journal flush fails still
 * closes its LISTEN connection (another instance records at once), its HTTP
 * server and its pool, and says what failed; and a consumer's subscriber
 * connected at the close gets 1001 and leaves no lease behind, so another
 * instance delivers the occurrence at once rather than after the visibility
 * timeout.
 */
import { describe, expect, it } from 'vitest';
import { requestData, subscribeWs, until, wsClient } from './support/clients.js';
import { CONSUME, CREATE, finishAndNotify } from './support/consumers.js';
import { recordingGateway } from './support/fixtures.js';
import { createTestDatabase } from './support/database.js';
import { startTestGateway } from './support/gateway.js';
import { WARN_OR_ERROR, watchedSocket } from './support/command.js';
import { insertBuild, seedJobset } from './support/hydra.js';

describe('closing a gateway', () => {
  it("runs every step when one fails: the recorder's and LISTEN connections, the HTTP server and the pool close, and the failure is reported", async () => {
    const db = await createTestDatabase();
    const first = await recordingGateway(db.url, { instance: 'failing-close', lockRetryMs: 50 });
    const second = await startTestGateway(db.url, { instance: 'successor', lockRetryMs: 50, reconnectGraceMs: 0 });
    expect(second.recorder.recording).toBe(false);

    // The journal flush fails (its connection broke, say): what comes after it must still run.
    first.recorder.stop = async () => {
      throw new Error('journal flush failed');
    };
    const closing = first.close();
    await expect(closing).rejects.toThrow(AggregateError);
    await expect(closing).rejects.toThrow(/journal flush failed/);

    // The recorder's session ended all the same, and with it the recorder lock: the other instance records now.
    await until(() => second.recorder.recording, 10_000, 'the second instance recording');
    expect(first.server.listening).toBe(false);
    await expect(fetch(first.url)).rejects.toThrow();
    expect(first.pool.ended).toBe(true);
    await second.close();
  });

  it("ends a consumer's subscriber with 1001 and releases its lease, so another instance delivers it at once", async () => {
    // A database of its own: no other instance competes for the recorder lock.
    const db = await createTestDatabase();
    const jobsetId = await seedJobset(db.pool);
    const gateway = await recordingGateway(db.url, { instance: 'leasing', visibilityTimeoutMs: 600_000 });
    await requestData(gateway.url, CREATE, { name: 'release-sync' });
    const build = await insertBuild(db.pool, jobsetId);
    await finishAndNotify(db.pool, [build]);

    const { client, code } = watchedSocket(gateway.url);
    const first = subscribeWs(client, CONSUME, { consumer: 'release-sync' });
    expect((await first.nextData()).buildFinished).toMatchObject({ buildId: build, deliveryCount: 1 });
    const leased = async () =>
      (await db.pool.query('SELECT lease_owner FROM hydra_notify_gateway.occurrences WHERE build_id = $1', [build])).rows[0].lease_owner;
    expect(await leased()).not.toBeNull();

    const logged = gateway.logs.length;
    await gateway.close();
    expect(await code).toBe(1001);
    expect(await leased()).toBeNull();
    // Quietly: a lease that could not be released would be a warning.
    expect(gateway.logs.slice(logged).filter((line) => WARN_OR_ERROR.test(line))).toEqual([]);

    // Well within the ten-minute visibility timeout: the lease is free.
    const successor = await recordingGateway(db.url, { instance: 'leasing-successor' });
    const again = subscribeWs(wsClient(successor.url), CONSUME, { consumer: 'release-sync' });
    expect((await again.nextData()).buildFinished).toMatchObject({ buildId: build, deliveryCount: 2 });
  });
});
