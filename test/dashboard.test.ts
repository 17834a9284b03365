/**
 * The dashboard at `/`, served by a real gateway and used in a real browser
 * (Debian's Chromium, headless): its files are compressed, cache-busted and
 * small; a build queued by a NOTIFY (sent as Hydra sends it, in the
 * transaction that inserts the row) appears on Live within a second and moves
 * through building to finished; acknowledging from the Delivery view removes
 * the build from the backlog (and needs a token with the ack scope, typed
 * into the page); History filters and pages the journal and shows what
 * happened since the previous visit's saved cursor; a webhook whose endpoint
 * fails shows why, and is enabled and redelivered from the page. A gateway without a build
 * says how to make one. test/dashboard-start.test.ts has the dashboard of
 * `npm start` (simulated activity, a gateway killed and restarted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { describe, expect } from 'vitest';
import { requestData, until } from './support/clients.js';
import { transaction } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import { startTestGateway } from './support/gateway.js';
import { openPage, screenshot } from './support/browser.js';
import { finishBuilds, insertBuild, insertStep } from './support/hydra.js';
import { startReceiver } from './support/receiver.js';

/** Webhooks that fail fast: an attempt every 250 ms, disabled after 1 s of failures. */
const test = fixtures({
  instance: 'dashboard',
  anonymous: 'read',
  webhooks: { schedule: Array(12).fill(250), timeoutMs: 400, tickMs: 50, leaseMs: 5_000, disableAfterMs: 1_000 },
});

// Both jobsets exist before the first test (seeding one sends jobsets_added).
test.beforeAll(async ({ gateway, jobsetId, otherJobsetId }) => {});

const doc = <T, V = Record<string, unknown>>(text: string) => parse(text) as TypedDocumentNode<T, V>;
const JOURNAL = doc<
  { events: { edges: { cursor: string; node: { channel: string; payload: string } }[] } },
  { first: number; channels?: string[] }
>(
  'query ($first: Int, $channels: [NotificationChannel!]) { events(first: $first, channels: $channels) { edges { cursor node { channel payload } } } }',
);

const CREATE_CONSUMER = doc<{ createConsumer: { name: string } }, { name: string }>(
  'mutation ($name: String!) { createConsumer(name: $name) { name } }',
);
const CREATE_WEBHOOK = doc<{ createWebhook: { secret: string } }, { name: string; url: string; subscription: string }>(
  'mutation ($name: String!, $url: String!, $subscription: String!) { createWebhook(name: $name, url: $url, subscription: $subscription) { secret } }',
);

/** The origin the gateway serves the dashboard on. */
const originOf = (url: string) => new URL(url).origin;

/** The scripts and style sheets a page names (what the browser loads before the first paint). */
function firstPaintFiles(html: string): { scripts: string[]; styles: string[] } {
  const scripts = [
    ...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g),
    ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g),
  ].map((m) => m[1]!);
  const styles = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
  return { scripts, styles };
}

describe('serving the dashboard', () => {
  test('/ is the page, revalidated each time; its files are hashed, immutable, compressed per Accept-Encoding and under 100 KB of script', async ({
    gateway,
  }) => {
    const origin = originOf(gateway.url);
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const etag = page.headers.get('etag')!;
    const html = await page.text();
    expect(html).toContain('hydra-notify-gateway');
    // Unchanged: 304, no body.
    const again = await fetch(`${origin}/`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);

    const { scripts, styles } = firstPaintFiles(html);
    expect(scripts.length).toBeGreaterThan(0);
    expect(styles.length).toBeGreaterThan(0);
    let scriptBytes = 0;
    for (const path of [...scripts, ...styles]) {
      expect(path, 'a hashed file name').toMatch(/^\/assets\/[\w.-]+-[\w-]{8}\.(js|css)$/);
      const plain = await fetch(`${origin}${path}`, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.get('content-encoding')).toBeNull();
      const raw = Buffer.from(await plain.arrayBuffer());
      if (path.endsWith('.js')) scriptBytes += raw.length;
      // fetch() decodes for us: node:http shows the bytes as sent.
      for (const [encoding, decode] of [
        ['br', brotliDecompressSync],
        ['gzip', gunzipSync],
      ] as const) {
        const response = await rawGet(`${origin}${path}`, encoding);
        if (raw.length >= 1024) {
          expect(response.headers['content-encoding'], `${path} as ${encoding}`).toBe(encoding);
          expect(response.body.length).toBeLessThan(raw.length);
          expect(decode(response.body).equals(raw)).toBe(true);
        }
        expect(response.headers.vary).toBe('Accept-Encoding');
      }
    }
    expect(scriptBytes, 'JavaScript before the first paint').toBeLessThan(100 * 1024);
    expect((await fetch(`${origin}/assets/nothing-12345678.js`)).status).toBe(404);
    expect((await fetch(`${origin}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(405);
  });

  test('a gateway without a build says how to make one, and still serves GraphiQL', async ({ db }) => {
    const empty = mkdtempSync(join(tmpdir(), 'hng-no-dashboard-'));
    try {
      const bare = await startTestGateway(db.url, { instance: 'no-dashboard', dashboardDir: empty });
      const page = await fetch(`${originOf(bare.url)}/`);
      expect(page.status).toBe(503);
      expect(await page.text()).toContain('npm run build:dashboard');
      expect(bare.logs.some((line) => line.includes('the dashboard is not built'))).toBe(true);
      const graphiql = await fetch(bare.url, { headers: { accept: 'text/html' } });
      expect(graphiql.status).toBe(200);
      expect(await graphiql.text()).toContain('GraphiQL');
      await bare.close();
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

/** GET `url` with `Accept-Encoding: encoding`, without decoding the body. */
async function rawGet(url: string, encoding: string): Promise<{ headers: Record<string, string | undefined>; body: Buffer }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    request(url, { headers: { 'accept-encoding': encoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ headers: res.headers as Record<string, string | undefined>, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

describe('Live', () => {
  test('a build queued by a NOTIFY appears within a second, then shows its step and machine, then its status and duration', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const page = await openPage(`${originOf(gateway.url)}/#/live`);
    await page
      .getByRole('status')
      .filter({ hasText: /^\s*connected$/ })
      .waitFor({ timeout: 15_000 });
    // The feed's subscription is open on the gateway: from now on an event reaches the page as it happens.
    await until(() => gateway.hub.size > 0, 15_000, 'the page subscribed');

    const id = await transaction(db.pool, async (client) => {
      const build = await insertBuild(client, jobsetId, { job: 'hello-dashboard.x86_64-linux' });
      await client.query(`NOTIFY build_queued, '${build}'`);
      return build;
    });
    const committed = Date.now();
    const lane = page.locator('[data-jobset="nixpkgs/trunk"]');
    const card = lane.locator(`[data-build-id="${id}"]`);
    await card.waitFor({ timeout: 1_000 });
    const appearedMs = Date.now() - committed;
    expect(appearedMs).toBeLessThan(1_000);
    expect(await card.textContent()).toContain('hello-dashboard.x86_64-linux');
    expect(
      await lane
        .locator('.column', { has: page.locator('h4', { hasText: 'queued' }) })
        .locator(`[data-build-id="${id}"]`)
        .count(),
    ).toBe(1);

    // The queue runner dispatches a step to builder1: the build moves to "building", with the step and machine.
    await transaction(db.pool, async (client) => {
      await insertStep(client, id, 1);
      await client.query('SELECT pg_notify($1, $2)', ['step_started', `${id}\t1`]);
      await client.query(`NOTIFY build_started, '${id}'`);
    });
    const building = lane.locator('.column', { has: page.locator('h4', { hasText: 'building' }) }).locator(`[data-build-id="${id}"]`);
    await building.waitFor({ timeout: 10_000 });
    expect(await building.textContent()).toContain('step 1 on builder1');

    // It fails, after 10 s: "finished", with the status and the duration.
    await finishBuilds(db.pool, [id], { status: 1 });
    await transaction(db.pool, (client) => client.query(`NOTIFY build_finished, '${id}'`));
    const finished = lane.locator('.column', { has: page.locator('h4', { hasText: 'finished' }) }).locator(`[data-build-id="${id}"]`);
    await finished.waitFor({ timeout: 10_000 });
    expect(await finished.textContent()).toMatch(/failed\s+in 10 s/);
    expect(await building.count()).toBe(0);

    // Evaluations, as they start and fail.
    await transaction(db.pool, (client) => client.query('SELECT pg_notify($1, $2)', ['eval_started', `4242.1.99\t${jobsetId}`]));
    const evaluation = page.locator('.evaluation', { hasText: 'nixpkgs/trunk' });
    await evaluation.filter({ hasText: 'evaluating…' }).waitFor({ timeout: 10_000 });
    await transaction(db.pool, (client) => client.query('SELECT pg_notify($1, $2)', ['eval_failed', `4242.1.99\t${jobsetId}`]));
    await evaluation.filter({ hasText: 'failed' }).waitFor({ timeout: 10_000 });
    expect(await evaluation.filter({ hasText: 'evaluating…' }).count()).toBe(0);

    expect(page.problems).toEqual([]);
    await page.close();
  });
});

describe('Delivery', () => {
  test("acknowledging from the page removes the build from the backlog (Hydra's, or a consumer's); without an ack token the page says what is missing", async ({
    db,
    gateway,
    jobsetId,
    otherJobsetId,
  }) => {
    const keep = await insertBuild(db.pool, otherJobsetId, { job: 'keep-me' });
    const done = await insertBuild(db.pool, jobsetId, { job: 'acknowledge-me' });
    await finishBuilds(db.pool, [keep, done]);
    await transaction(db.pool, async (client) => {
      await client.query(`NOTIFY build_finished, '${keep}'`);
      await client.query(`NOTIFY build_finished, '${done}'`);
    });
    const { token } = await gateway.tokens.create({ name: 'dashboard-ack', scope: 'ack' });

    const page = await openPage(`${originOf(gateway.url)}/#/delivery`);
    const backlog = page.locator('.backlog');
    const row = backlog.locator(`tr[data-build-id="${done}"]`);
    await row.waitFor({ timeout: 15_000 });
    await backlog.locator(`tr[data-build-id="${keep}"]`).waitFor({ timeout: 15_000 });

    // Anonymous reading is allowed here, acknowledging is not.
    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await backlog.getByText('needs a token with the ack scope').waitFor({ timeout: 10_000 });
    expect(await row.count()).toBe(1);

    await page.getByLabel('token').fill(token);
    await page.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /^\s*connected/ })
      .waitFor({ timeout: 15_000 });
    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await backlog.getByText(`build ${done} acknowledged`).waitFor({ timeout: 10_000 });
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    expect(await backlog.locator(`tr[data-build-id="${keep}"]`).count()).toBe(1);

    // Hydra's column is cleared, and a fresh visit (the token is remembered) finds it gone too.
    const { rows } = await db.pool.query('SELECT notificationpendingsince FROM builds WHERE id = $1', [done]);
    expect(rows[0].notificationpendingsince).toBeNull();
    await page.reload();
    await backlog.locator(`tr[data-build-id="${keep}"]`).waitFor({ timeout: 15_000 });
    expect(await backlog.locator(`tr[data-build-id="${done}"]`).count()).toBe(0);
    expect(await page.getByLabel('token').getAttribute('placeholder')).toContain('saved');

    // A consumer: its row has its backlog and the age of its oldest finish; its own backlog is acknowledged per consumer.
    await requestData(gateway.url, CREATE_CONSUMER, { name: 'release-sync' });
    const later = await insertBuild(db.pool, jobsetId, { job: 'for-the-consumer' });
    await finishBuilds(db.pool, [later]);
    await transaction(db.pool, (client) => client.query(`NOTIFY build_finished, '${later}'`));
    const consumer = page.locator('tr[data-consumer="release-sync"]');
    await consumer.locator('td.backlog', { hasText: /^1$/ }).waitFor({ timeout: 15_000 });
    expect(await consumer.textContent()).toMatch(/\d+ s ago/);
    await consumer.getByRole('button', { name: 'show backlog' }).click();
    const owed = backlog.locator(`tr[data-build-id="${later}"]`);
    await owed.getByRole('button', { name: 'Redeliver' }).waitFor({ timeout: 15_000 });
    // Finishes from before the consumer existed are not its own.
    expect(await backlog.locator(`tr[data-build-id="${keep}"]`).count()).toBe(0);
    await owed.getByRole('button', { name: 'Acknowledge' }).click();
    await backlog.getByText(`build ${later} acknowledged`).waitFor({ timeout: 10_000 });
    await consumer.locator('td.backlog', { hasText: /^0$/ }).waitFor({ timeout: 15_000 });

    // The only errors are the refused acknowledgement's (403 in the console).
    expect(page.problems.filter((p) => !p.includes('403'))).toEqual([]);
    await page.close();
  });
});

describe('Delivery: webhooks', () => {
  test('a failing webhook shows its reason; enabled again it delivers, and Redeliver sends a delivery again with the same webhook-id', async ({
    gateway,
  }) => {
    const receiver = await startReceiver(() => ({ status: 503 }));
    await requestData(gateway.url, CREATE_WEBHOOK, {
      name: 'chat',
      url: receiver.url,
      subscription: 'subscription { buildFinished { buildId } }',
    });
    // Only an admin sees webhooks: the token saved by an earlier visit.
    const page = await openPage(`${originOf(gateway.url)}/#/delivery`, { 'hng.token': gateway.adminToken });
    const hook = page.locator('[data-webhook="chat"]');
    await hook.filter({ hasText: 'disabled' }).waitFor({ timeout: 30_000 });
    const reason = (await hook.locator('p.reason').textContent()) ?? '';
    expect(reason).toContain('every delivery attempt failed since');
    expect(reason).toContain('HTTP 503 Service Unavailable');
    // The ping the webhook starts with is among its last failures, with the answer it got.
    const ping = hook.locator('tr[data-delivery-id]', { hasText: 'ping' });
    await ping.filter({ hasText: 'HTTP 503' }).waitFor({ timeout: 10_000 });
    expect(receiver.requests.length).toBeGreaterThan(1);
    await screenshot(page, 'delivery');

    // The endpoint is fixed: Enable, and the ping is delivered.
    receiver.answer = () => ({ status: 204 });
    await hook.getByRole('button', { name: 'Enable' }).click();
    await hook.locator('.badge', { hasText: 'active' }).waitFor({ timeout: 30_000 });
    await ping.filter({ hasText: 'delivered' }).waitFor({ timeout: 30_000 });
    expect(await hook.locator('p.reason').count()).toBe(0);

    // Redeliver sends it once more, with the webhook-id the receiver deduplicates by.
    const msgId = await ping.getAttribute('data-msg-id');
    const before = receiver.requests.length;
    await ping.getByRole('button', { name: 'Redeliver' }).click();
    const [again] = (await receiver.received(before + 1, 30_000)).slice(-1);
    expect(again!.headers['webhook-id']).toBe(msgId);
    expect(page.problems).toEqual([]);
    await page.close();
  });
});

describe('History', () => {
  test('filters the journal by project and channel, pages through it, and shows what happened since the saved cursor', async ({
    db,
    gateway,
    jobsetId,
    otherJobsetId,
  }) => {
    // 55 builds of hydra:master queued in one evaluation's transaction, and 2 of nixpkgs.
    const hydraBuilds: number[] = [];
    await transaction(db.pool, async (client) => {
      for (let i = 0; i < 55; i++) {
        const id = await insertBuild(client, otherJobsetId, { job: `history-${i}` });
        hydraBuilds.push(id);
        await client.query(`NOTIFY build_queued, '${id}'`);
      }
      for (let i = 0; i < 2; i++) {
        const id = await insertBuild(client, jobsetId, { job: `elsewhere-${i}` });
        await client.query(`NOTIFY build_queued, '${id}'`);
      }
    });
    const origin = originOf(gateway.url);
    // Journaled (the recorder writes in batches), before the page reads the journal.
    let queued = await requestData(gateway.url, JOURNAL, { first: 500, channels: ['BUILD_QUEUED'] });
    const last = String(hydraBuilds[54]);
    await until(
      () => queued.events.edges.some((e) => e.node.payload === last),
      15_000,
      'the builds journaled',
      async () => void (queued = await requestData(gateway.url, JOURNAL, { first: 500, channels: ['BUILD_QUEUED'] })),
    );
    const page = await openPage(`${origin}/#/history?project=hydra&channel=BUILD_QUEUED`);
    const rows = page.locator('table.events tbody tr');
    const row = (on: typeof page, id: number) => on.locator('table.events tbody tr', { hasText: `build ${id} queued` });
    const hydraRow = (id: number) => row(page, id);
    await hydraRow(hydraBuilds[0]!).waitFor({ timeout: 15_000 });
    expect(await rows.count()).toBe(50);
    expect(await page.locator('table.events', { hasText: 'elsewhere-' }).count()).toBe(0);
    await page.getByRole('button', { name: 'next page →' }).click();
    await hydraRow(hydraBuilds[54]!).waitFor({ timeout: 15_000 });
    expect(await rows.count()).toBe(5);
    expect(await page.getByRole('button', { name: 'next page →' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '← previous page' }).click();
    await hydraRow(hydraBuilds[0]!).waitFor({ timeout: 15_000 });
    await page.close();

    // The previous visit saw up to the 53rd of them: this visit offers the rest.
    const seen = queued.events.edges.find((e) => e.node.payload === String(hydraBuilds[52]))!;
    const visit = await openPage(`${origin}/#/history`, {
      'hng.lastSeen': JSON.stringify({ cursor: seen.cursor, at: new Date().toISOString() }),
    });
    await visit.getByRole('link', { name: 'What happened since my last visit' }).click();
    await row(visit, hydraBuilds[53]!).waitFor({ timeout: 15_000 });
    expect(await row(visit, hydraBuilds[52]!).count()).toBe(0);
    expect(await row(visit, hydraBuilds[54]!).count()).toBe(1);
    expect(visit.problems).toEqual([]);
    await visit.close();
  });
});
