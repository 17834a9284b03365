/**
 * GraphiQL's page at `/graphql` (for a browser: a GET that accepts HTML),
 * served by the gateway itself: yoga's GraphiQL bundle, split into files a
 * browser caches, and the dashboard build's setup script
 * (dashboard/src/graphiql/main.ts), which opens the README's operations in
 * tabs and keeps every event of a running subscription on screen.
 *
 * Contract:
 * - The page is small and `no-cache`; yoga's script, style sheet and Monaco's
 *   three workers (9 MB together, 2 MB compressed) are files named by their
 *   content's hash under `/graphiql/`, immutable, compressed per
 *   Accept-Encoding (assets.ts). They are made once per process, on first
 *   use, and shared by every gateway of the process.
 * - Without a dashboard build (no setup script), the page is yoga's own,
 *   everything inline, as before the dashboard existed: still served
 *   compressed, `no-cache`.
 * - The page needs no token; the token goes in GraphiQL's headers editor, or
 *   is the one saved on the dashboard (same origin).
 */
import { createHash } from 'node:crypto';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { Asset, IMMUTABLE, NO_CACHE } from './assets.js';
import { EXAMPLE_OPERATIONS } from './examples.js';

/** The page's title (also the one in GraphiQL's logo corner, with a link to the dashboard). */
const TITLE = 'hydra-notify-gateway';

/** The dashboard's icon, inline: the page names no file a build would have to provide. */
const FAVICON =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="14" fill="#2f5fb3"/>' +
      '<path d="M9 10v12M23 10v12M9 16h14" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>',
  );

/** yoga's bundle, loaded on first use (5 MB of script in a string). */
type Bundle = typeof import('@graphql-yoga/render-graphiql/graphiql');

interface GraphiQLFiles {
  assets: Map<string, Asset>;
  css: string;
  js: string;
  workers: Record<string, string>;
}

let files: Promise<GraphiQLFiles> | null = null;

/** A file of yoga's bundle as a hashed asset under /graphiql/. */
function hashed(assets: Map<string, Asset>, name: string, extension: string, content: string, type: string): string {
  const body = Buffer.from(content);
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 10);
  const path = `/graphiql/${name}-${hash}.${extension}`;
  assets.set(path, new Asset(body, type, IMMUTABLE));
  return path;
}

async function loadFiles(): Promise<GraphiQLFiles> {
  const bundle: Bundle = await import('@graphql-yoga/render-graphiql/graphiql');
  const assets = new Map<string, Asset>();
  const js = 'text/javascript; charset=utf-8';
  return {
    assets,
    css: hashed(assets, 'graphiql', 'css', bundle.css, 'text/css; charset=utf-8'),
    js: hashed(assets, 'graphiql', 'js', bundle.js, js),
    workers: {
      editorWorkerService: hashed(assets, 'editor.worker', 'js', bundle.editorWorkerService, js),
      json: hashed(assets, 'json.worker', 'js', bundle.jsonWorker, js),
      graphql: hashed(assets, 'graphql.worker', 'js', bundle.graphqlWorker, js),
    },
  };
}

/** The options yoga's renderYogaGraphiQL gets (the fetcher is the setup script's). */
export function graphiqlOptions(): Record<string, unknown> {
  return {
    title: `${TITLE} <a href="/" style="font-size: 0.8em; margin-left: 0.5em">dashboard</a>`,
    defaultTabs: EXAMPLE_OPERATIONS.map((query) => ({ query })),
    defaultHeaders: '{}',
    shouldPersistHeaders: true,
  };
}

/** Characters that must not appear raw inside `<script type="application/json">`. */
function scriptSafe(json: string): string {
  return json.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/** GraphiQL's page and files, for the setup script at `setupScript` (null: yoga's own inline page). */
export class GraphiQL {
  private page: Promise<Asset> | null = null;

  constructor(private readonly setupScript: string | null) {}

  /** The page. */
  async pageAsset(): Promise<Asset> {
    this.page ??= this.render();
    return this.page;
  }

  /** A file of the page under /graphiql/, or null. */
  async asset(path: string): Promise<Asset | null> {
    if (!path.startsWith('/graphiql/')) return null;
    return (await (files ??= loadFiles())).assets.get(path) ?? null;
  }

  private async render(): Promise<Asset> {
    if (this.setupScript === null) {
      const html = renderGraphiQL({ ...graphiqlOptions(), subscriptionsProtocol: 'WS', title: TITLE, favicon: FAVICON } as never);
      return new Asset(Buffer.from(html), 'text/html; charset=utf-8', NO_CACHE);
    }
    const { css, js, workers } = await (files ??= loadFiles());
    const options = scriptSafe(JSON.stringify({ graphiql: graphiqlOptions(), workers }));
    const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${TITLE} · GraphiQL</title>
    <link rel="icon" href="${FAVICON}" />
    <link rel="stylesheet" href="${css}" />
    <style>body { margin: 0; height: 100vh; } #root { height: 100vh; }</style>
  </head>
  <body class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root"></div>
    <script id="graphiql-options" type="application/json">${options}</script>
    <script src="${js}"></script>
    <script type="module" src="${this.setupScript}"></script>
  </body>
</html>
`;
    return new Asset(Buffer.from(html), 'text/html; charset=utf-8', NO_CACHE);
  }
}
