/**
 * Real clients over real sockets: graphql-ws over `ws`, graphql-sse over
 * fetch (Server-Sent Events), and plain HTTP POST for queries and mutations;
 * and the client module's own client (`gatewayClient`), as users run it.
 *
 * A subscription is read through a `Stream`, which queues what the server
 * sends and lets a test await the next result (with a deadline, so a missing
 * event fails the test instead of hanging it). Nothing here sleeps.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { type Client, createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createGatewayClient, type GatewayClient, type GatewayClientOptions } from '../../src/client/index.js';
import { adminTokens, onCleanup, type TestGateway } from './gateway.js';

/** Who a client is: `token` is sent as its bearer token; null sends none; unset sends the gateway's admin token. */
export interface As {
  token?: string | null;
}

/** The token to send to `url` as `as` says. */
export function tokenFor(url: string, as: As = {}): string | null {
  return as.token === undefined ? (adminTokens.get(new URL(url).origin) ?? null) : as.token;
}

/** The Authorization header for `url` as `as` says (none when no token). */
export function authorization(url: string, as?: As): Record<string, string> {
  const token = tokenFor(url, as);
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

/** What a subscription delivered, in order, and how it ended. */
export class Stream<T> {
  private readonly results: ExecutionResult<T>[] = [];
  private waiters: (() => void)[] = [];
  ended = false;
  error: unknown = null;
  dispose: () => void = () => {};

  /** Called by the transport for each result. */
  push(result: ExecutionResult<T>): void {
    this.results.push(result);
    this.wake();
  }

  /** Called by the transport when the subscription ends. */
  end(error?: unknown): void {
    this.ended = true;
    this.error = error ?? null;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next result; rejects after `timeoutMs`, or if the stream ended first. */
  async next(timeoutMs = 10_000): Promise<ExecutionResult<T>> {
    const deadline = Date.now() + timeoutMs;
    while (this.results.length === 0) {
      if (this.ended) throw new Error(`stream ended ${this.error ? `with ${JSON.stringify(this.error)}` : 'without further results'}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no result within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.results.shift()!;
  }

  /** The data of the next result; fails on errors. */
  async nextData(timeoutMs?: number): Promise<T> {
    const result = await this.next(timeoutMs);
    if (result.errors?.length) throw new Error(`subscription error: ${JSON.stringify(result.errors)}`);
    return result.data as T;
  }

  /** The data of the next `n` results. */
  async take(n: number, timeoutMs?: number): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(await this.nextData(timeoutMs));
    return out;
  }

  /** The sink a transport's `subscribe` feeds (graphql-ws and graphql-sse alike). */
  get sink() {
    return {
      next: (result: unknown) => this.push(result as ExecutionResult<T>),
      error: (error: unknown) => this.end(error),
      complete: () => this.end(),
    };
  }

  /** Results received and not yet read. */
  get buffered(): number {
    return this.results.length;
  }

  /** Resolves when the stream has ended. */
  async waitEnded(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`stream did not end within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** A graphql-ws client to `httpUrl` (its ws:// form), disposed after the file. */
export function wsClient(httpUrl: string, as?: As): Client {
  const token = tokenFor(httpUrl, as);
  const client = createWsClient({
    url: httpUrl.replace(/^http/, 'ws'),
    connectionParams: token === null ? {} : { token },
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    // The gateway closing the socket at the end of a file is expected.
    onNonLazyError: () => {},
  });
  onCleanup(async () => client.dispose());
  return client;
}

/** Subscribes over graphql-ws. */
export function subscribeWs<T, V extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<T, V>,
  variables?: V,
): Stream<T> {
  const stream = new Stream<T>();
  stream.dispose = client.subscribe<T>({ query: print(document), variables: variables ?? {} }, stream.sink);
  onCleanup(async () => stream.dispose());
  return stream;
}

/** Subscribes over graphql-ws and waits until the gateway holds one more hub subscriber. */
export async function subscribed<T, V extends Record<string, unknown>>(
  gateway: TestGateway,
  document: TypedDocumentNode<T, V>,
  variables?: V,
): Promise<Stream<T>> {
  const before = gateway.hub.size;
  const stream = subscribeWs(wsClient(gateway.url), document, variables);
  await until(() => gateway.hub.size > before, 10_000, 'subscription registered');
  return stream;
}

/** Subscribes over Server-Sent Events (graphql-sse, distinct connections mode). */
export function subscribeSse<T, V extends Record<string, unknown>>(
  httpUrl: string,
  document: TypedDocumentNode<T, V>,
  variables?: V,
  as?: As,
): Stream<T> {
  const client = createSseClient({ url: httpUrl, retryAttempts: 0, headers: authorization(httpUrl, as) });
  const stream = new Stream<T>();
  const unsubscribe = client.subscribe<T>({ query: print(document), variables: variables ?? {} }, stream.sink);
  stream.dispose = () => {
    unsubscribe();
    client.dispose();
  };
  onCleanup(async () => stream.dispose());
  return stream;
}

/** Runs a query or mutation over HTTP POST. */
export async function request<T, V extends Record<string, unknown>>(
  httpUrl: string,
  document: TypedDocumentNode<T, V>,
  variables?: V,
  as?: As,
): Promise<ExecutionResult<T>> {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...authorization(httpUrl, as) },
    body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
  });
  return (await response.json()) as ExecutionResult<T>;
}

/** The data of a successful query; fails on errors. */
export async function requestData<T, V extends Record<string, unknown>>(
  httpUrl: string,
  document: TypedDocumentNode<T, V>,
  variables?: V,
  as?: As,
): Promise<T> {
  const result = await request(httpUrl, document, variables, as);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data as T;
}

/**
 * Resolves once `predicate` holds, checking every 10 ms (after `refresh`, when
 * given, which may read state from elsewhere); rejects after `timeoutMs`.
 */
export async function until(
  predicate: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
  refresh?: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await refresh?.();
    if (predicate()) return;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The client module's client of `gateway` (Node 20: `ws` as the WebSocket), with short retries, disposed after the file. */
export function gatewayClient(gateway: TestGateway, options: Partial<GatewayClientOptions> = {}): GatewayClient {
  const client = createGatewayClient({
    url: gateway.url,
    token: gateway.adminToken,
    webSocketImpl: WebSocket,
    retryMinMs: 50,
    retryMaxMs: 500,
    ...options,
  });
  onCleanup(() => client.dispose());
  return client;
}
