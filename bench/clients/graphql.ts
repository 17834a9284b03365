/**
 * Queries and mutations over HTTP POST, from the orchestrator, as any
 * integration script would send them (JSON, keep-alive connections), with
 * the lightest client the platform has: node:http on a keep-alive agent. The
 * clients share the machine's two cores with the server they measure, and
 * `fetch` (undici's WHATWG layer: streams, Headers, a Response per call)
 * costs several times what node:http does per request: with 16 clients
 * acknowledging one build a call, the clients' CPU would bound the figure.
 *
 * Contract: `post` resolves with the result's `data` and the round trip in
 * milliseconds; a transport failure, a non-200 status or GraphQL `errors`
 * reject with the first message, so a figure is never computed from failed
 * requests. A request that fails with ECONNRESET on a reused connection,
 * before any answer, is sent again on another (the retry Node's
 * documentation gives for `reusedSocket`); its round trip is the last
 * attempt's. The cause this is for is the server closing the connection for
 * idleness (its keep-alive timeout) as the request left, unread; a request
 * the server had read before resetting would be sent twice, which the bench's
 * requests bear (reads; acknowledgements, compare-and-set; a webhook's
 * removal would fail loudly). `walkPages` follows a Relay
 * connection page by page. A server that gave a token gets it
 * (credentials.ts).
 */
import { Agent, request } from 'node:http';
import { authorizationFor } from './credentials.js';

/** A successful result and how long it took. */
export interface Timed<T> {
  data: T;
  ms: number;
}

/** One keep-alive agent for every request of the run: connections are reused, as an integration script's are. */
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

/** POSTs `query` with `variables` to `url`; see the module contract. */
export async function post<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<Timed<T>> {
  const body = JSON.stringify({ query, variables });
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    accept: 'application/graphql-response+json, application/json',
  };
  const { ms, ...answer } = await answered(url, 'POST', headers, body);
  return parsed<T>(answer, ms);
}

/** One request, sent again while it meets a stale connection (see the module contract); its answer and the last attempt's round trip. */
async function answered(
  url: string | URL,
  method: string,
  headers: Record<string, string | number>,
  body?: string,
): Promise<{ status: number; text: string; ms: number }> {
  for (;;) {
    const started = performance.now();
    try {
      const answer = await sent(url, method, headers, body);
      return { ...answer, ms: performance.now() - started };
    } catch (error) {
      if (!(error instanceof StaleConnection)) throw error;
    }
  }
}

/** A request refused on a reused keep-alive connection the server had closed (see the module contract). */
class StaleConnection extends Error {}

/** One request (with the server's token): the answer's status and text. */
async function sent(
  url: string | URL,
  method: string,
  headers: Record<string, string | number>,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, { method, agent, timeout: 60_000, headers: { ...headers, ...authorizationFor(String(url)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 60 s`)));
    req.on('error', (error: NodeJS.ErrnoException) =>
      reject(req.reusedSocket && error.code === 'ECONNRESET' ? new StaleConnection(error.message) : error),
    );
    req.end(body);
  });
}

/** The result's data, or the error its answer carries. */
function parsed<T>({ status, text }: { status: number; text: string }, ms: number): Timed<T> {
  const result = JSON.parse(text) as { data?: T; errors?: { message: string }[] };
  if (result.errors?.length) throw new Error(`GraphQL error: ${result.errors[0]!.message}`);
  if (status !== 200 || result.data === undefined) throw new Error(`HTTP ${status} without data`);
  return { data: result.data, ms };
}

/** A Relay connection's page, as the bench's page queries select it. */
export interface Page {
  edges: unknown[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/**
 * Requests `pages` pages of the connection at `field` (from the start, or
 * after `after`), each right after the previous; resolves with each page's
 * round trip in ms and its number of edges. `between`, if given, runs after
 * each page, outside its round trip.
 */
export async function walkPages(
  url: string,
  query: string,
  field: string,
  pages: number,
  after: string | null = null,
  between?: () => void,
): Promise<{ ms: number[]; edges: number[]; last: string | null }> {
  const ms: number[] = [];
  const edges: number[] = [];
  let cursor = after;
  for (let i = 0; i < pages; i++) {
    const { data, ms: took } = await post<Record<string, Page>>(url, query, { after: cursor });
    between?.();
    const page = data[field]!;
    ms.push(took);
    edges.push(page.edges.length);
    cursor = page.pageInfo.endCursor;
    if (!page.pageInfo.hasNextPage) break;
  }
  return { ms, edges, last: cursor };
}

/**
 * Walks the connection from the start, `per` pages a walk, until `total` pages or more have been
 * answered (a warm-up by count); `before`, if given, runs before each walk. Resolves with the pages.
 */
export async function walkAtLeast(
  url: string,
  query: string,
  field: string,
  total: number,
  per: number,
  before?: () => Promise<unknown>,
): Promise<number> {
  let pages = 0;
  while (pages < total) {
    await before?.();
    // A walk of one page still counts one (a backlog shorter than `per` ends the walk early).
    pages += Math.max(1, (await walkPages(url, query, field, per)).ms.length);
  }
  return pages;
}

/** A server's garbage collection by kind (`minor`, `major`, `incremental`, `weakcb`) since it started. */
export type GcTotals = Record<string, { ms: number; count: number }>;

/**
 * The gateway's garbage collection so far, read from its `/metrics` (`nodejs_gc_duration_seconds`,
 * one observation per collection, as an operator's Prometheus reads it; before 71ff04c it was
 * prom-client's, which missed collections Node reported together). `url` is the server's GraphQL
 * URL; `/metrics` is beside it.
 */
export async function gcTotals(url: string): Promise<GcTotals> {
  const metricsUrl = new URL('/metrics', url);
  const { status, text } = await answered(metricsUrl, 'GET', {});
  if (status !== 200) throw new Error(`${metricsUrl}: HTTP ${status}`);
  const totals: GcTotals = {};
  for (const [, part, kind, value] of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)$/gm)) {
    const entry = (totals[kind!] ??= { ms: 0, count: 0 });
    if (part === 'sum') entry.ms = Number(value) * 1_000;
    else entry.count = Number(value);
  }
  return totals;
}

/** What the server collected between two readings, by kind. */
export function gcSince(before: GcTotals, after: GcTotals): GcTotals {
  const since: GcTotals = {};
  for (const [kind, { ms, count }] of Object.entries(after))
    since[kind] = { ms: ms - (before[kind]?.ms ?? 0), count: count - (before[kind]?.count ?? 0) };
  return since;
}
