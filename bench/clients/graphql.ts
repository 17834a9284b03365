/**
 * Queries and mutations over HTTP POST, from the orchestrator, as any
 * integration script would send them (fetch, JSON, keep-alive connections).
 *
 * Contract: `post` resolves with the result's `data` and the round trip in
 * milliseconds; a transport failure, a non-200 status or GraphQL `errors`
 * reject with the first message, so a figure is never computed from failed
 * requests. `walkPages` follows a Relay connection page by page. A server
 * that gave a token gets it (credentials.ts).
 */
import { authorizationFor } from './credentials.js';

/** A successful result and how long it took. */
export interface Timed<T> {
  data: T;
  ms: number;
}

/** POSTs `query` with `variables` to `url`; see the module contract. */
export async function post<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<Timed<T>> {
  const started = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...authorizationFor(url),
    },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(60_000),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  const ms = performance.now() - started;
  if (body.errors?.length) throw new Error(`GraphQL error: ${body.errors[0]!.message}`);
  if (response.status !== 200 || body.data === undefined) throw new Error(`HTTP ${response.status} without data`);
  return { data: body.data, ms };
}

/** A Relay connection's page, as the bench's page queries select it. */
export interface Page {
  edges: unknown[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/**
 * Requests `pages` pages of the connection at `field` (from the start, or
 * after `after`), each right after the previous; resolves with each page's
 * round trip in ms and its number of edges.
 */
export async function walkPages(
  url: string,
  query: string,
  field: string,
  pages: number,
  after: string | null = null,
): Promise<{ ms: number[]; edges: number[]; last: string | null }> {
  const ms: number[] = [];
  const edges: number[] = [];
  let cursor = after;
  for (let i = 0; i < pages; i++) {
    const { data, ms: took } = await post<Record<string, Page>>(url, query, { after: cursor });
    const page = data[field]!;
    ms.push(took);
    edges.push(page.edges.length);
    cursor = page.pageInfo.endCursor;
    if (!page.pageInfo.hasNextPage) break;
  }
  return { ms, edges, last: cursor };
}
