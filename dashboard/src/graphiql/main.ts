/**
 * GraphiQL's page setup: the page (src/server/graphiql.ts) loads yoga's
 * GraphiQL bundle, then this script, which renders it with the gateway's
 * options (the README's operations as the first tabs) and a fetcher of our
 * own.
 *
 * Contract of the fetcher:
 * - Queries and mutations: HTTP POST to /graphql, JSON, with the headers of
 *   the headers editor; without an Authorization header there, the token
 *   saved on the dashboard (same origin) is sent, if any.
 * - Subscriptions: graphql-ws on /graphql (the token in `connection_init`),
 *   one socket per run. Every event stays on screen, newest first, not only
 *   the latest: each result shown is `{ received, events: [...] }`, the
 *   newest `KEEP` events of the run. Stopping the run (or running another
 *   operation) ends the subscription and closes the socket at once. A socket
 *   that closes on its own is shown as an error after the events received.
 */
import { type Client, createClient } from 'graphql-ws/client';
import { savedToken } from '../api/token';

/** How many events of one subscription stay on screen. */
const KEEP = 500;

/** What the page puts in `<script id="graphiql-options" type="application/json">`. */
interface PageOptions {
  /** Options handed to yoga's renderYogaGraphiQL (defaultTabs, title, …). */
  graphiql: Record<string, unknown>;
  /** Monaco's worker scripts by label, as URLs on the gateway. */
  workers: Record<string, string>;
}

interface FetcherParams {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

interface FetcherOptions {
  headers?: Record<string, unknown>;
  documentAST?: { definitions: readonly { kind: string; operation?: string; name?: { value: string } }[] };
}

declare global {
  interface Window {
    YogaGraphiQL: { renderYogaGraphiQL(root: Element, options: Record<string, unknown>): void };
    MonacoEnvironment?: { globalAPI: boolean; getWorkerUrl(moduleId: string, label: string): string };
  }
}

/** The headers editor's headers, with the dashboard's token when they carry none. */
function headersOf(options: FetcherOptions | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options?.headers ?? {})) if (typeof value === 'string') headers[name] = value;
  const token = savedToken();
  if (token && !Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) headers.Authorization = `Bearer ${token}`;
  return headers;
}

function isSubscription(params: FetcherParams, options: FetcherOptions | undefined): boolean {
  const operations = (options?.documentAST?.definitions ?? []).filter((d) => d.kind === 'OperationDefinition');
  const chosen = params.operationName ? operations.find((d) => d.name?.value === params.operationName) : operations[0];
  if (chosen) return chosen.operation === 'subscription';
  return /^\s*subscription\b/.test(params.query.replace(/#[^\n]*\n/g, ''));
}

async function request(params: FetcherParams, headers: Record<string, string>): Promise<unknown> {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify(params),
  });
  return response.json();
}

/** What ended a subscription run: the gateway's errors, or the socket's close code and reason. */
function describe(error: unknown): string {
  if (Array.isArray(error)) return error.map((e: { message?: string }) => e.message ?? String(e)).join('; ');
  if (error && typeof error === 'object' && 'code' in error) {
    const { code, reason } = error as { code: number; reason?: string };
    return `the WebSocket closed (${code}${reason ? `: ${reason}` : ''})`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** What GraphiQL subscribes to: it calls `unsubscribe` when the run is stopped. */
interface Observable {
  subscribe(observer: { next(value: unknown): void; error(error: unknown): void; complete(): void }): { unsubscribe(): void };
}

/**
 * Every event of one subscription run, newest first, as one growing result.
 * An observable rather than an async generator: a generator's `return()`
 * waits for the pending event, so stopping a quiet subscription would not
 * end it until the next event came.
 */
function subscribe(params: FetcherParams, headers: Record<string, string>): Observable {
  return {
    subscribe(observer) {
      const { protocol, host } = window.location;
      const authorization = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
      const client: Client = createClient({
        url: `${protocol === 'https:' ? 'wss:' : 'ws:'}//${host}/graphql`,
        connectionParams: authorization ? { Authorization: authorization } : {},
        retryAttempts: 0,
      });
      const events: unknown[] = [];
      let received = 0;
      const shown = () => ({
        received,
        events,
        ...(received > events.length
          ? { note: `the ${received - events.length} oldest are not shown; the dashboard's Stream view keeps more` }
          : {}),
      });
      const stop = client.subscribe(
        { query: params.query, operationName: params.operationName ?? undefined, variables: params.variables ?? undefined },
        {
          next: (result) => {
            received += 1;
            events.unshift(result);
            if (events.length > KEEP) events.pop();
            observer.next(shown());
          },
          error: (error) => {
            events.unshift({ errors: [{ message: describe(error) }] });
            observer.next(shown());
            observer.complete();
            void client.dispose();
          },
          complete: () => {
            observer.complete();
            void client.dispose();
          },
        },
      );
      return {
        unsubscribe: () => {
          stop();
          void client.dispose();
        },
      };
    },
  };
}

/** GraphiQL's fetcher; see the contract. */
function fetcher(params: FetcherParams, options?: FetcherOptions): Promise<unknown> | Observable {
  const headers = headersOf(options);
  return isSubscription(params, options) ? subscribe(params, headers) : request(params, headers);
}

const options = JSON.parse(document.getElementById('graphiql-options')!.textContent!) as PageOptions;
window.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: (_moduleId, label) => options.workers[label] ?? options.workers.editorWorkerService!,
};
window.YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root')!, { ...options.graphiql, fetcher });
