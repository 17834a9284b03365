/**
 * GraphiQL at /graphql: it opens with the README's operations in tabs (and
 * the copies stay equal to the README's), its 9 MB of script and style are
 * files a browser caches for good and receives compressed, the page itself is
 * small and revalidated; and in a real browser, a running subscription keeps
 * every event on screen, not only the latest.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { describe, expect } from 'vitest';
import { EXAMPLE_OPERATIONS, withoutComments } from '../src/server/examples.js';
import { until } from './support/clients.js';
import { openPage, screenshot } from './support/browser.js';
import { transaction } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import { finishBuilds, insertBuild } from './support/hydra.js';

const test = fixtures({ instance: 'graphiql', anonymous: 'read' });

test.beforeAll(async ({ gateway, jobsetId }) => {});

/** Status, headers and the byte count of a GET as sent (not decoded). */
async function head(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; bytes: number }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, bytes }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

describe('GraphiQL', () => {
  test("its tabs are the README's operations, in the README's order", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const tryIt = readme.slice(readme.indexOf('### Try it in GraphiQL'), readme.indexOf('## The API'));
    const examples = [...tryIt.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(examples.length).toBeGreaterThanOrEqual(5);
    expect(EXAMPLE_OPERATIONS.map(withoutComments)).toEqual(examples);
    // Each tab has a name of its own, so the tab bar tells them apart.
    const names = examples.map((e) => /^(?:query|mutation|subscription) (\w+)/.exec(e)?.[1]);
    expect(new Set(names).size).toBe(examples.length);
  });

  test('the page is small and revalidated; its files are hashed, immutable and compressed', async ({ gateway }) => {
    const page = await head(gateway.url, { accept: 'text/html', 'accept-encoding': 'br' });
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.bytes).toBeLessThan(20_000);
    const html = await (await fetch(gateway.url, { headers: { accept: 'text/html' } })).text();
    const files = [...html.matchAll(/(?:src|href)="(\/(?:graphiql|assets)\/[^"]+)"/g)].map((m) => m[1]!);
    const options = JSON.parse(/<script id="graphiql-options" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!) as {
      workers: Record<string, string>;
    };
    files.push(...Object.values(options.workers));
    expect(files.length).toBe(6); // style sheet, yoga's script, our setup script, Monaco's three workers
    let raw = 0;
    let sent = 0;
    for (const file of files) {
      const plain = await head(`${new URL(gateway.url).origin}${file}`, { 'accept-encoding': 'identity' });
      const compressed = await head(`${new URL(gateway.url).origin}${file}`, { 'accept-encoding': 'gzip, deflate, br' });
      expect(plain.status, file).toBe(200);
      expect(compressed.headers['cache-control'], file).toBe('public, max-age=31536000, immutable');
      expect(compressed.headers['content-encoding'], file).toBe('br');
      raw += plain.bytes;
      sent += compressed.bytes;
    }
    expect(raw).toBeGreaterThan(5_000_000);
    expect(sent).toBeLessThan(raw / 3);
  });

  test('opens with the tabs and keeps every event of a running subscription on screen', async ({ db, gateway, jobsetId }) => {
    const page = await openPage(gateway.url);
    for (const name of ['WatchFinishedBuilds', 'PendingBacklog', 'AcknowledgeFinish', 'CreateConsumer', 'ConsumeFinishedBuilds'])
      await page.getByRole('tab', { name }).waitFor({ timeout: 30_000 });
    const before = gateway.hub.size;
    await page.locator('.graphiql-execute-button').click();
    await until(() => gateway.hub.size > before, 15_000, 'the subscription open on the gateway');

    const ids: number[] = [];
    for (const job of ['first-event', 'second-event']) {
      const id = await insertBuild(db.pool, jobsetId, { job });
      await finishBuilds(db.pool, [id]);
      await transaction(db.pool, (client) => client.query(`NOTIFY build_finished, '${id}'`));
      ids.push(id);
    }
    await page.setViewportSize({ width: 1100, height: 1800 });
    const response = page.locator('.graphiql-response');
    await response.filter({ hasText: /"received":\s*2/ }).waitFor({ timeout: 15_000 });
    // Monaco writes spaces as no-break spaces.
    const text = (await response.innerText()).replace(/\u00a0/g, ' ');
    // Both, the newest first.
    const first = text.indexOf(`"buildId": ${ids[0]}`);
    const second = text.indexOf(`"buildId": ${ids[1]}`);
    expect(first).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(0);
    expect(second).toBeLessThan(first);

    await page.setViewportSize({ width: 1100, height: 720 });
    await screenshot(page, 'graphiql');
    // Stopping the run ends the subscription on the gateway.
    await page.locator('.graphiql-execute-button').click();
    await until(() => gateway.hub.size === before, 15_000, 'the subscription ended');
    expect(page.problems).toEqual([]);
    await page.close();
  });
});
