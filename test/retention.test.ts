/**
 * Retention: journal rows older than the retention window are pruned in
 * batches while recording goes on (a notification sent during a long prune
 * reaches subscribers before the prune ends), and the events after a pruned
 * cursor are refused as CURSOR_EXPIRED rather than skipped.
 */
import { describe, expect } from 'vitest';
import { QueueChangedDocument } from '../src/client/generated/operations.js';
import { subscribeWs, until, wsClient } from './support/clients.js';
import { notify } from './support/database.js';
import { test as base, recordingGateway } from './support/fixtures.js';
import { startTestGateway } from './support/gateway.js';

/** The file's gateway, with a retention of one day, over a journal that holds 100,000 rows of 40 days ago. */
const test = base.extend('gateway', { scope: 'file' }, async ({ db }) => {
  // A first gateway creates the journal; 100,000 rows received 40 days ago are
  // then put in it, as if journaled then, before the gateway under test starts.
  const first = await startTestGateway(db.url);
  await first.close();
  await db.pool.query(
    `INSERT INTO hydra_notify_gateway.journal (kind, channel, payload, received_at, recorded_by)
     SELECT 'notification', 'builds_added', g::text, now() - interval '40 days', 'old' FROM generate_series(1, 100000) g`,
  );
  return recordingGateway(db.url, { retentionMs: 86_400_000 });
});

describe('retention', () => {
  test('prunes old rows in batches without holding up recording', async ({ db, gateway }) => {
    const stream = subscribeWs(wsClient(gateway.url), QueueChangedDocument);
    await until(() => gateway.hub.size === 1);

    let pruneDone = false;
    const pruning = gateway.retention.prune().then((n) => {
      pruneDone = true;
      return n;
    });
    await notify(db.pool, [['builds_added', '424242']]);
    const { queueChanged } = await stream.nextData();
    expect(queueChanged.lowestNewBuildId).toBe(424242);
    // Recording went on while the prune was still deleting batches.
    expect(pruneDone).toBe(false);
    expect(await pruning).toBe(100_000);

    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS old, (SELECT pruned_through FROM hydra_notify_gateway.recorder) AS pruned
       FROM hydra_notify_gateway.journal WHERE received_at < now() - interval '1 day'`,
    );
    expect(rows[0].old).toBe(0);
    expect(Number(rows[0].pruned)).toBeGreaterThan(0);
    // The live notification journaled meanwhile is kept.
    const kept = await db.pool.query(`SELECT 1 FROM hydra_notify_gateway.journal WHERE payload = '424242'`);
    expect(kept.rowCount).toBe(1);
  });
});
