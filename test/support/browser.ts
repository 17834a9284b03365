/**
 * A real browser for the dashboard's tests: Debian's Chromium
 * (`/usr/bin/chromium`, or `CHROMIUM`), headless, driven by playwright-core
 * (which downloads no browser of its own). `.ci/run` installs the package
 * when it is missing; without it a test fails saying so, never skips.
 *
 * Lifecycle: one browser per test file, launched on first use and closed
 * after the file (registered with `onCleanup`, so before the gateways it
 * talks to close, and leaks.ts sees its process gone). Each page a test
 * opens is closed after the test file too; a test that closes its own page
 * earlier (a reload, a second visit) may. Console errors and uncaught
 * exceptions of every page are collected in `problems`, so a test can
 * assert the page ran clean.
 *
 * Screenshots are the README's: with `HNG_SCREENSHOTS=update` (`npm run
 * screenshots`) they are written to docs/screenshots/, otherwise to a
 * temporary folder, so every run takes them (and fails if it cannot) while
 * a plain `npm test` leaves the committed images alone.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { onCleanup } from './gateway.js';

/** Where Debian's package puts Chromium. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

let browser: Promise<Browser> | null = null;
let scratch: string | null = null;

/** The file's browser, launched on first use. */
export async function theBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium; .ci/run does) or set CHROMIUM`);
  }
  if (!browser) {
    const launching = chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root in a container: no user namespaces for Chromium's sandbox; /dev/shm may be tiny.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    browser = launching;
    onCleanup(async () => {
      browser = null;
      await (await launching).close();
    });
  }
  return browser;
}

/** What went wrong in a page: console errors and uncaught exceptions. */
export interface PageProblems {
  problems: string[];
}

/**
 * A new page (in a context of its own: its own localStorage) at `url`,
 * 1100×720. `storage` is put in the page's localStorage before any of its
 * scripts run (a saved token, a saved cursor).
 */
export async function openPage(url: string, storage: Record<string, string> = {}): Promise<Page & PageProblems> {
  const context: BrowserContext = await (await theBrowser()).newContext({ viewport: { width: 1100, height: 720 }, deviceScaleFactor: 1 });
  onCleanup(() => context.close());
  if (Object.keys(storage).length > 0) {
    await context.addInitScript((entries: Record<string, string>) => {
      for (const [key, value] of Object.entries(entries)) if (localStorage.getItem(key) === null) localStorage.setItem(key, value);
    }, storage);
  }
  const page = Object.assign(await context.newPage(), { problems: [] as string[] });
  page.on('console', (message) => {
    if (message.type() === 'error') page.problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => page.problems.push(`uncaught: ${error.message}`));
  await page.goto(url);
  return page;
}

/** Takes a screenshot of `page` named `name`.png (see the module's note on where it goes); returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  let dir: string;
  if (process.env.HNG_SCREENSHOTS === 'update') {
    dir = SCREENSHOTS;
  } else {
    if (!scratch) {
      const made = mkdtempSync(join(tmpdir(), 'hng-screenshots-'));
      scratch = made;
      onCleanup(async () => {
        rmSync(made, { recursive: true, force: true });
        scratch = null;
      });
    }
    dir = scratch;
  }
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, animations: 'disabled', caret: 'hide' });
  return path;
}
