/**
 * The dashboard's built files (`npm run build:dashboard` writes them to
 * `dist/dashboard/`), loaded once when the gateway starts and served from
 * memory: the page at `/`, its hashed scripts, styles and icons under
 * `/assets/`, and the script GraphiQL's page loads (graphiql.ts).
 *
 * Contract:
 * - The build is read whole at start; a rebuild while the gateway runs is
 *   seen on its next start (a running gateway keeps what it loaded, so a
 *   page and the assets it names always match).
 * - The page is `no-cache` with a Content-Security-Policy that allows only
 *   the gateway's own origin (scripts, styles, images, and the WebSocket and
 *   HTTP calls to /graphql); hashed assets are immutable (assets.ts).
 * - No build (a clone where `npm run build:dashboard` never ran):
 *   `loadDashboard` returns `{ missing }` with the reason, the gateway still
 *   starts, and `/` says how to build it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Asset, contentTypeOf, IMMUTABLE, NO_CACHE } from './assets.js';

/**
 * The project's folder: the nearest one above this module that holds a
 * package.json (the same from src/server/ and from its build in dist/app/src/server/).
 */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Where `npm run build:dashboard` writes the build. */
export const DEFAULT_DASHBOARD_DIR = join(projectRoot(), 'dist', 'dashboard') + sep;

/** The page's policy: everything from the gateway itself, nothing from anywhere else, never framed. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

/** A loaded build. */
export interface Dashboard {
  /** The page served at `/`. */
  page: Asset;
  /** Hashed files by URL path (`/assets/dashboard-C5uGGa9d.js`). */
  assets: ReadonlyMap<string, Asset>;
  /** The URL path of GraphiQL's setup script, or null when the build has none. */
  graphiqlScript: string | null;
}

/** What Vite's manifest says of one entry or chunk. */
interface ManifestEntry {
  file: string;
  isEntry?: boolean;
  css?: string[];
}

/** Why there is no build to serve. */
export interface NoDashboard {
  missing: string;
}

/** Reads the build in `dir`; `{ missing }`, saying why, when there is none. */
export function loadDashboard(dir: string = DEFAULT_DASHBOARD_DIR): Dashboard | NoDashboard {
  const manifestPath = join(dir, '.vite', 'manifest.json');
  const pagePath = join(dir, 'index.html');
  if (!existsSync(manifestPath) || !existsSync(pagePath)) return { missing: `no build in ${dir}` };
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, ManifestEntry>;
  const assets = new Map<string, Asset>();
  const assetsDir = join(dir, 'assets');
  if (existsSync(assetsDir)) {
    for (const file of readdirSync(assetsDir, { recursive: true, withFileTypes: true })) {
      if (!file.isFile()) continue;
      const path = join(file.parentPath, file.name);
      const url = `/${relative(dir, path).split(sep).join('/')}`;
      assets.set(url, new Asset(readFileSync(path), contentTypeOf(path), IMMUTABLE));
    }
  }
  const graphiql = Object.entries(manifest).find(([source, entry]) => entry.isEntry && source.endsWith('graphiql/main.ts'))?.[1];
  return {
    page: new Asset(readFileSync(pagePath), 'text/html; charset=utf-8', NO_CACHE, { 'content-security-policy': DASHBOARD_CSP }),
    assets,
    graphiqlScript: graphiql ? `/${graphiql.file}` : null,
  };
}

/** The page `/` shows when there is no build: what to run. */
export function notBuiltPage(reason: string): Asset {
  const body =
    '<!doctype html><meta charset="utf-8"><title>hydra-notify-gateway</title>' +
    '<h1>The dashboard is not built</h1>' +
    `<p>${escapeHtml(reason)}. Run <code>npm run build:dashboard</code> (<code>npm start</code> does it first), then restart the gateway.</p>` +
    '<p>GraphiQL is at <a href="/graphql">/graphql</a>.</p>';
  return new Asset(Buffer.from(body), 'text/html; charset=utf-8', NO_CACHE);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
