/**
 * The dashboard of `npm start`, as a newcomer gets it: the start command
 * (test/support/command.ts: `node --import tsx src/main.ts` in a process of
 * its own, embedded Postgres, simulated Hydra) serves it at `/`, and a real
 * browser shows the simulated activity on Live. Then the gateway is killed
 * (SIGKILL: no goodbye to its sockets) and started again on the same data
 * folder: the page says it is reconnecting, then that it resumed from the
 * cursor of the last event it had shown, lists the window nobody listened
 * as a gap, and shows no event twice; a build queued after the restart
 * appears as usual. The README's main screenshots are taken here.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedConnectionString } from '../src/db/embedded.js';
import { openPage, screenshot } from './support/browser.js';
import { StartCommand, STARTUP_MS, tempDir } from './support/command.js';
import { freePort } from './support/ports.js';

/** The journal position of a row's cursor (base64url of `journal:<n>`). */
function position(cursor: string): number {
  return Number(/^journal:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString())![1]);
}

describe('the dashboard of npm start', () => {
  let dataDir: string;
  let vars: Record<string, string>;
  let origin: string;
  let page: Awaited<ReturnType<typeof openPage>>;
  let first: StartCommand;
  const pools: pg.Pool[] = [];

  beforeAll(async () => {
    dataDir = tempDir();
    const port = await freePort();
    vars = {
      PORT: String(port),
      HNG_EMBEDDED_PG_PORT: String(await freePort()),
      HNG_SIMULATOR_EVAL_MS: '1500',
      HNG_SIMULATOR_RUNNER_MS: '400',
    };
    origin = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    for (const pool of pools) await pool.end();
  });

  it(
    'shows the simulated Hydra on Live: builds by jobset in every state, and evaluations',
    async () => {
      first = new StartCommand(vars, dataDir);
      await first.waitForLog('gateway ready');
      page = await openPage(`${origin}/#/live`);
      await page
        .getByRole('status')
        .filter({ hasText: /^\s*connected$/ })
        .waitFor({ timeout: 30_000 });
      // The simulator needs a few of its ticks to have builds queued, building and finished at once.
      for (const state of ['queued', 'building', 'finished'])
        await page.locator(`.lane li.build.${state}`).first().waitFor({ timeout: 60_000 });
      await page.locator('.evaluation', { hasText: 'evaluated' }).first().waitFor({ timeout: 60_000 });
      // Every simulated jobset has its lane (the evaluator takes them in turn).
      await page.locator('.lane').nth(2).waitFor({ timeout: 60_000 });
      await screenshot(page, 'dashboard');
    },
    STARTUP_MS + 60_000,
  );

  it(
    'killed and started again, the gateway is followed by the page: reconnecting, resumed from the last cursor, the gap shown, no event twice',
    async () => {
      await page.goto(`${origin}/#/stream`);
      await page
        .getByRole('status')
        .filter({ hasText: /^\s*connected$/ })
        .waitFor({ timeout: 30_000 });
      await page.locator('table.events tbody tr').first().waitFor({ timeout: 30_000 });

      // No goodbye: the sockets just drop (its Postgres stays up until the next start stops it).
      process.kill(first.pid, 'SIGKILL');
      await first.exited();
      const badge = page.getByRole('status');
      await badge.filter({ hasText: 'reconnecting' }).waitFor({ timeout: 15_000 });

      // What the page had when the gateway died: every event up to cursor N, once.
      const before = await cursorsShown(page);
      expect(before.length).toBeGreaterThan(0);
      expect(new Set(before).size).toBe(before.length);
      const last = Math.max(...before);

      const second = new StartCommand({ ...vars, HNG_SIMULATOR: 'off' }, dataDir);
      await second.waitForLog('gateway ready');
      await badge.filter({ hasText: `connected · resumed from cursor ${last}` }).waitFor({ timeout: 30_000 });
      // The window in which nobody listened is a row of its own.
      await page.locator('table.events tr.gap').first().waitFor({ timeout: 30_000 });

      // A build queued now, as Hydra's evaluator does it, shows up after the gap.
      const pool = new pg.Pool({ connectionString: embeddedConnectionString(Number(vars.HNG_EMBEDDED_PG_PORT)), max: 1 });
      pools.push(pool);
      const client = await pool.connect();
      let id: number;
      try {
        await client.query('BEGIN');
        const { rows } = await client.query(
          `INSERT INTO builds (finished, timestamp, jobset_id, job, nixname, drvpath, system)
           SELECT 0, extract(epoch FROM now())::int, id, 'after-restart', 'after-restart', '/nix/store/after-restart.drv', 'x86_64-linux'
           FROM jobsets ORDER BY id LIMIT 1 RETURNING id`,
        );
        id = Number(rows[0].id);
        await client.query(`NOTIFY build_queued, '${id}'`);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await page.locator('table.events tbody tr', { hasText: `build ${id} queued` }).waitFor({ timeout: 15_000 });

      const after = await cursorsShown(page);
      expect(new Set(after).size, 'no event twice').toBe(after.length);
      expect(after.filter((p) => p === last)).toHaveLength(1);
      for (const p of before) expect(after, `event ${p}, shown before the kill, still shown once`).toContain(p);
      expect(after.some((p) => p > last)).toBe(true);
      await screenshot(page, 'stream');

      // History after that cursor (the link "since my last visit" makes): the gap first, then what followed.
      const resumeAt = Buffer.from(`journal:${last}`).toString('base64url');
      await page.goto(`${origin}/#/history?after=${resumeAt}`);
      await page.locator('table.events tr.gap').first().waitFor({ timeout: 15_000 });
      await page.locator('table.events tbody tr', { hasText: `build ${id} queued` }).waitFor({ timeout: 15_000 });
      await screenshot(page, 'history');
      expect(page.problems.filter((p) => p.startsWith('uncaught'))).toEqual([]);
    },
    2 * STARTUP_MS,
  );
});

/** The journal positions of every event row the Stream view shows (all rows, "show more" until none is left). */
async function cursorsShown(page: Awaited<ReturnType<typeof openPage>>): Promise<number[]> {
  const more = page.getByRole('button', { name: /^show \d+ more$/ });
  while ((await more.count()) > 0) await more.click();
  const cursors = await page
    .locator('table.events tbody tr[data-cursor]')
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-cursor')!));
  return cursors.map(position);
}
