/**
 * The gateway's client: queries and mutations over HTTP, subscriptions over
 * graphql-ws, with a token, resuming by themselves.
 *
 * Contract:
 * - One WebSocket per client, opened on the first subscription and closed
 *   after the last (graphql-ws, lazy). The token goes in `connection_init`
 *   (`{ token }`), asked for again at every connection, so it may change.
 * - A subscription whose document declares `$after` and selects `cursor` is
 *   resumable: the client remembers the cursor of the last event it
 *   received, and after a disconnect (the gateway restarting, the network, a
 *   missed keep-alive pong) or an in-band SLOW_CONSUMER / ROW_LOAD_FAILED it
 *   subscribes again with `after:` that cursor, with jittered exponential
 *   backoff (`retryMinMs` to `retryMaxMs`) while the gateway is away. The
 *   gateway replays what was journaled after it, then live events: no event
 *   is lost or repeated across the reconnect. `subscription.cursor` is the
 *   cursor of the last event handed out, the one to persist for a resume in a
 *   later process.
 * - A subscription without `$after` (a consumer's: its pending set is its
 *   position) is subscribed again as it was; events received but not yet
 *   handed out are dropped then, since the gateway delivers again what its
 *   consumer has not acknowledged.
 * - What no retry can cure ends the iteration with an error: a fatal close
 *   (4401 unauthenticated, 4403, …; see errors.ts), a GraphQL error that is
 *   not resumable (CURSOR_EXPIRED, FORBIDDEN, BAD_USER_INPUT, …). A
 *   subscription the gateway completes (a consumer removed) ends the
 *   iteration. `return()` (a `break` out of `for await`), an aborted
 *   `signal` or `dispose()` ends it without error.
 * - Nothing here needs Node: it runs in browsers (the global WebSocket and
 *   fetch) and in Node 20 with `webSocketImpl: WebSocket` from `ws` (Node 22
 *   has a global WebSocket).
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type DocumentNode, type OperationDefinitionNode, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import {
  FATAL_CLOSE_CODES,
  GatewayClosedError,
  GatewayResponseError,
  type GraphQLErrorLike,
  isClose,
  isGraphQLErrors,
  RESUMABLE_CODES,
} from './errors.js';

/** The data type of a typed document. */
export type ResultOf<D> = D extends TypedDocumentNode<infer R, infer _V> ? R : never;
/** The variables type of a typed document. */
export type VariablesOf<D> = D extends TypedDocumentNode<infer _R, infer V> ? V : never;
/** What a subscription yields: the value of its one root field (e.g. a `BuildFinishedEvent`). */
export type EventOf<D> = ResultOf<D>[keyof ResultOf<D>];

/** A token, or a function asked for it at each connection and request. */
export type TokenSource = string | null | (() => string | null | Promise<string | null>);

/** The connection, as `onState` reports it. */
export type ConnectionState =
  { status: 'connecting' } | { status: 'connected' } | { status: 'disconnected'; code: number | null; reason: string };

/** How to reach the gateway. */
export interface GatewayClientOptions {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql` (the WebSocket URL is derived: ws:, wss:). */
  url: string;
  /** A bearer token (`hydra-notify-gateway tokens create`); none for anonymous reading. */
  token?: TokenSource;
  /** A WebSocket class; default `globalThis.WebSocket` (Node 20 has none: pass `ws`'s). */
  webSocketImpl?: unknown;
  /** A fetch function; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /**
   * Smallest delay before subscribing again after a disconnect.
   * @default 250
   */
  retryMinMs?: number;
  /**
   * Largest delay between attempts while the gateway is away.
   * @default 5_000 // 5 seconds
   */
  retryMaxMs?: number;
  /**
   * How often the client pings the gateway; a ping not answered within half
   * of it closes the socket (4408) and the subscriptions resume on a new one.
   * 0 disables it.
   * @default 10_000 // 10 seconds
   */
  keepAliveMs?: number;
  /** Told when the WebSocket connects, is connected, or disconnects. */
  onState?: (state: ConnectionState) => void;
}

/** Options of one subscription. */
export interface SubscribeOptions {
  /** Start after this cursor (one persisted from `subscription.cursor`): needs a document that declares `$after`. */
  after?: string | null;
  /** Told each time the subscription is subscribed again, with the cursor it resumes after. */
  onResume?: (after: string | null) => void;
  /** Ends the subscription when aborted. */
  signal?: AbortSignal;
}

/** A running subscription: iterate it with `for await`; `break` ends it. */
export interface ResumableSubscription<E> extends AsyncIterableIterator<E> {
  /** The cursor of the last event handed out (or the `after` it started with): persist it to resume later. */
  readonly cursor: string | null;
  /** Ends the subscription; a pending `next()` resolves as done. */
  close(): void;
}

/** A client of one gateway; see the module contract. */
export interface GatewayClient {
  /** Runs a query or mutation over HTTP; rejects with `GatewayResponseError` when the answer has errors. */
  request<D extends TypedDocumentNode<any, any>>(
    document: D,
    variables?: VariablesOf<D>,
    init?: { signal?: AbortSignal },
  ): Promise<ResultOf<D>>;
  /** Subscribes over the WebSocket; resumes by itself (see the module contract). */
  subscribe<D extends TypedDocumentNode<any, any>>(
    document: D,
    variables?: Omit<VariablesOf<D>, 'after'>,
    options?: SubscribeOptions,
  ): ResumableSubscription<EventOf<D>>;
  /** Ends every subscription and closes the WebSocket. */
  dispose(): Promise<void>;
}

/** The one operation of a document. */
function operationOf(document: DocumentNode): OperationDefinitionNode {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
  if (operations.length !== 1) throw new TypeError(`a document with exactly one operation is needed, got ${operations.length}`);
  return operations[0]!;
}

/** Whether the operation declares `$after` and its root field selects `cursor`, so it can resume. */
function resumability(operation: OperationDefinitionNode): { declaresAfter: boolean; selectsCursor: boolean } {
  const declaresAfter = (operation.variableDefinitions ?? []).some((v) => v.variable.name.value === 'after');
  const root = operation.selectionSet.selections[0];
  const selectsCursor =
    root?.kind === 'Field' &&
    (root.selectionSet?.selections ?? []).some((s) => s.kind === 'Field' && s.name.value === 'cursor' && !s.alias);
  return { declaresAfter, selectsCursor };
}

async function resolveToken(token: TokenSource | undefined): Promise<string | null> {
  return typeof token === 'function' ? token() : (token ?? null);
}

/** Creates a client of the gateway at `options.url`. */
export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  const retryMinMs = options.retryMinMs ?? 250;
  const retryMaxMs = options.retryMaxMs ?? 5_000;
  const keepAliveMs = options.keepAliveMs ?? 10_000;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const subscriptions = new Set<Subscription<any>>();
  let socket: { readyState: number; close(code: number, reason: string): void } | null = null;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;

  const ws: Client = createClient({
    url: options.url.replace(/^http/, 'ws'),
    webSocketImpl: options.webSocketImpl,
    lazy: true,
    // Reconnecting is this module's: each subscription resumes after its own cursor.
    retryAttempts: 0,
    keepAlive: keepAliveMs,
    connectionParams: async () => {
      const token = await resolveToken(options.token);
      return token === null ? {} : { token };
    },
    on: {
      connecting: () => options.onState?.({ status: 'connecting' }),
      connected: (connected) => {
        socket = connected as typeof socket;
        for (const s of subscriptions) s.connected();
        options.onState?.({ status: 'connected' });
      },
      closed: (event) => {
        socket = null;
        clearTimeout(pongTimer);
        const close = isClose(event) ? event : null;
        options.onState?.({ status: 'disconnected', code: close?.code ?? null, reason: close?.reason ?? '' });
      },
      ping: (received) => {
        if (received || keepAliveMs <= 0) return;
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => {
          if (socket?.readyState === 1) socket.close(4408, 'no pong from the gateway');
        }, keepAliveMs / 2);
      },
      pong: (received) => {
        if (received) clearTimeout(pongTimer);
      },
    },
  });

  const client: GatewayClient = {
    async request(document, variables, init) {
      const operation = operationOf(document);
      const token = await resolveToken(options.token);
      const response = await doFetch(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify({ query: print(document), variables: variables ?? {}, operationName: operation.name?.value }),
        signal: init?.signal,
      });
      const text = await response.text();
      let body: { data?: unknown; errors?: GraphQLErrorLike[] } | null = null;
      try {
        body = JSON.parse(text);
      } catch {
        throw new GatewayResponseError(
          `HTTP_${response.status}`,
          `HTTP ${response.status}: ${text.slice(0, 200)}`,
          [],
          null,
          response.status,
        );
      }
      if (body?.errors?.length) throw GatewayResponseError.of(body.errors, body.data ?? null, response.status);
      if (!response.ok || !body?.data) throw GatewayResponseError.of([], null, response.status);
      return body.data as ResultOf<typeof document>;
    },

    subscribe(document, variables, subscribeOptions = {}) {
      const subscription = new Subscription<any>(
        ws,
        document,
        (variables ?? {}) as Record<string, unknown>,
        subscribeOptions,
        { retryMinMs, retryMaxMs },
        () => subscriptions.delete(subscription),
      );
      subscriptions.add(subscription);
      subscription.start();
      return subscription;
    },

    async dispose() {
      for (const s of [...subscriptions]) s.close();
      clearTimeout(pongTimer);
      await ws.dispose();
    },
  };
  return client;
}

/** An event received, with the cursor it carries. */
interface Received<E> {
  value: E;
  cursor: string | null;
}

/** One resumable subscription; see the module contract. */
class Subscription<E> implements ResumableSubscription<E> {
  cursor: string | null;
  private received: string | null;
  private readonly queue: Received<E>[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private ended = false;
  private attempt = 0;
  /** Bumped at each (re)subscription, so the callbacks of an earlier one are ignored. */
  private generation = 0;
  private unsubscribe: (() => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly query: string;
  private readonly operationName: string | undefined;
  private readonly resumable: boolean;
  private readonly onAbort = () => this.close();

  constructor(
    private readonly ws: Client,
    document: DocumentNode,
    private readonly variables: Record<string, unknown>,
    private readonly options: SubscribeOptions,
    private readonly backoff: { retryMinMs: number; retryMaxMs: number },
    private readonly forget: () => void,
  ) {
    const operation = operationOf(document);
    if (operation.operation !== 'subscription') throw new TypeError(`subscribe() takes a subscription, got a ${operation.operation}`);
    const { declaresAfter, selectsCursor } = resumability(operation);
    if (declaresAfter && !selectsCursor)
      throw new TypeError('a document that declares $after must select `cursor` on its root field, to resume');
    if (!declaresAfter && options.after != null) throw new TypeError('`after` needs a document that declares $after');
    this.resumable = declaresAfter;
    this.query = print(document);
    this.operationName = operation.name?.value;
    this.cursor = this.received = options.after ?? null;
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Subscribes (again), after the last cursor received when resumable. */
  start(): void {
    if (this.options.signal?.aborted) this.close();
    if (this.ended) return;
    const generation = ++this.generation;
    const current = () => generation === this.generation && !this.ended;
    let resubscribeNow = false;
    const variables = this.resumable ? { ...this.variables, after: this.received } : this.variables;
    this.unsubscribe = this.ws.subscribe<Record<string, E>>(
      { query: this.query, variables, operationName: this.operationName },
      {
        next: (result) => {
          if (!current()) return;
          if (result.errors?.length) {
            if (this.isResumable(result.errors)) resubscribeNow = true;
            else this.fail(GatewayResponseError.of(result.errors as GraphQLErrorLike[], result.data ?? null));
            return;
          }
          const value = result.data ? Object.values(result.data)[0] : undefined;
          if (value === undefined || value === null) return;
          const carried = (value as { cursor?: unknown }).cursor;
          const cursor = typeof carried === 'string' ? carried : null;
          if (cursor !== null) this.received = cursor;
          this.attempt = 0;
          this.queue.push({ value, cursor });
          this.wake();
        },
        error: (error) => {
          if (!current()) return;
          if (isGraphQLErrors(error)) {
            if (this.isResumable(error)) this.retry(0);
            else this.fail(GatewayResponseError.of(error));
          } else if (isClose(error) && FATAL_CLOSE_CODES.includes(error.code)) {
            this.fail(new GatewayClosedError(error.code, error.reason ?? ''));
          } else {
            this.retry(this.delay());
          }
        },
        complete: () => {
          if (!current()) return;
          if (resubscribeNow) this.retry(0);
          else this.finish();
        },
      },
    );
  }

  /** The WebSocket (re)connected: the next disconnect starts backing off from the smallest delay. */
  connected(): void {
    this.attempt = 0;
  }

  async next(): Promise<IteratorResult<E>> {
    for (;;) {
      const item = this.queue.shift();
      if (item) {
        if (item.cursor !== null) this.cursor = item.cursor;
        return { done: false, value: item.value };
      }
      if (this.failure) {
        const failure = this.failure;
        this.failure = null;
        throw failure;
      }
      if (this.ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async return(): Promise<IteratorResult<E>> {
    this.close();
    return { done: true, value: undefined };
  }

  close(): void {
    if (this.ended) return;
    this.queue.length = 0;
    this.finish();
  }

  private isResumable(errors: readonly GraphQLErrorLike[]): boolean {
    return errors.every((e) => RESUMABLE_CODES.includes(String(e.extensions?.code)));
  }

  private delay(): number {
    const { retryMinMs, retryMaxMs } = this.backoff;
    const base = Math.min(retryMaxMs, retryMinMs * 2 ** this.attempt++);
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  private retry(delayMs: number): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    // Invalidate the old subscription's callbacks now: a late `complete` must not end this one.
    this.generation++;
    // Not resumable: the gateway delivers again what was not acknowledged.
    if (!this.resumable) this.queue.length = 0;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.ended) return;
      this.options.onResume?.(this.resumable ? this.received : null);
      this.start();
    }, delayMs);
  }

  private fail(error: Error): void {
    this.failure = error;
    this.finish();
  }

  private finish(): void {
    this.ended = true;
    this.generation++;
    clearTimeout(this.timer);
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.forget();
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}
