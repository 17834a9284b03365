/**
 * The dashboard's one graphql-ws connection to `/graphql`, and the
 * subscriptions over it that resume by cursor.
 *
 * Contract:
 * - One WebSocket per page, opened at once (not on first use), with the saved
 *   token in `connection_init` (`{ token }`; none: anonymous).
 * - Its state is always known and told to `onState` listeners: `connecting`
 *   (the first time), `connected` (with `resumedFrom`, the cursor the streams
 *   resumed after, when this connection replaced a lost one), `reconnecting`
 *   (the socket closed or could not open: a new one follows after a backoff of
 *   250 ms doubling to 5 s, jittered, for as long as it takes), or `refused`
 *   (the gateway closed with 4401 or 4403: the token is not valid or not
 *   enough; no retry until the token changes, which reconnects at once).
 * - A stream remembers the cursor of the last event it delivered. Each time a
 *   socket connects, every open stream subscribes on it with `after` that
 *   cursor (its `variables` callback decides for one that has none yet), so it
 *   receives what was journaled while it was away, then live events: no gap
 *   and no duplicate, as the gateway guarantees for `after`. Results of a
 *   socket that has been replaced are dropped.
 * - A stream the gateway ends with an error: SLOW_CONSUMER and
 *   ROW_LOAD_FAILED resubscribe at once with the last cursor, as the gateway
 *   asks; any other (CURSOR_EXPIRED, BAD_USER_INPUT) is handed to the
 *   stream's `error` and the stream stays closed.
 * - `close()` ends every stream and the socket; the connection is not used
 *   again.
 */
import { type Client, createClient } from 'graphql-ws/client';
import type { TypedDocumentString } from './generated';
import { onTokenChange, savedToken } from './token';

/** Where the connection stands. */
export type ConnectionState =
  | { kind: 'connecting' }
  | { kind: 'connected'; resumedFrom: string | null }
  | { kind: 'reconnecting'; attempt: number; reason: string }
  | { kind: 'refused'; reason: string };

/** A GraphQL error as the gateway sends it. */
export interface StreamError {
  message: string;
  extensions?: { code?: string };
}

/** The variables of a resumable subscription: every subscription of the schema takes `after`. */
export interface Resumable {
  after?: string | null;
}

/** What a stream's owner provides. */
export interface StreamOptions<T, V extends Resumable> {
  document: TypedDocumentString<T, V>;
  /**
   * The variables of the next subscription, given the last cursor delivered
   * (null: none yet). Their `after` counts as delivered until an event is.
   */
  variables: (lastCursor: string | null) => Promise<V> | V;
  /** The cursor of a result, remembered to resume after it. */
  cursorOf: (data: T) => string | null;
  next: (data: T) => void;
  /** The gateway ended the stream with these errors (it stays closed). */
  error?: (errors: readonly StreamError[]) => void;
}

/** An open stream. */
export interface Stream {
  /** The cursor of the last event delivered, or null. */
  readonly lastCursor: string | null;
  close(): void;
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;
/** Close codes after which retrying with the same token cannot help. */
const REFUSED: Record<number, string> = {
  4401: 'the token is not valid (unknown, revoked or expired)',
  4403: 'the token may not do this',
};

/** Codes with which the gateway ends a stream that should simply resume after its last cursor. */
const RESUMABLE = new Set(['SLOW_CONSUMER', 'ROW_LOAD_FAILED']);

interface StreamRecord {
  options: StreamOptions<unknown, Resumable>;
  lastCursor: string | null;
  closed: boolean;
  /** Ends the subscription on the current socket. */
  unsubscribe: () => void;
}

/** The connection; see the module's contract. */
export class Connection {
  private stateNow: ConnectionState = { kind: 'connecting' };
  private readonly listeners = new Set<(state: ConnectionState) => void>();
  private readonly streams = new Set<StreamRecord>();
  private client: Client | null = null;
  /** Bumped for every socket: results and events of an older one are ignored. */
  private generation = 0;
  private attempt = 0;
  private everConnected = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closedForGood = false;
  private readonly stopWatchingToken: () => void;

  constructor(private readonly url: string) {
    this.stopWatchingToken = onTokenChange(() => this.restart());
    this.open();
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.stateNow;
  }

  /** Calls `listener` with every new state; returns the unsubscribe. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Opens a stream (see the contract); it subscribes on the current socket, and again on every new one. */
  stream<T, V extends Resumable>(options: StreamOptions<T, V>): Stream {
    const record: StreamRecord = {
      options: options as unknown as StreamOptions<unknown, Resumable>,
      lastCursor: null,
      closed: false,
      unsubscribe: () => {},
    };
    this.streams.add(record);
    if (this.client && this.stateNow.kind === 'connected') void this.subscribe(record, this.client, this.generation);
    return {
      get lastCursor() {
        return record.lastCursor;
      },
      close: () => {
        record.closed = true;
        record.unsubscribe();
        this.streams.delete(record);
      },
    };
  }

  /** Ends every stream and the socket. */
  close(): void {
    this.closedForGood = true;
    this.stopWatchingToken();
    if (this.timer) clearTimeout(this.timer);
    for (const record of this.streams) record.unsubscribe();
    this.streams.clear();
    void this.client?.dispose();
    this.client = null;
  }

  private setState(state: ConnectionState): void {
    this.stateNow = state;
    for (const listener of this.listeners) listener(state);
  }

  /** A new socket with the current token (after a token change: at once, as a first connection). */
  private restart(): void {
    if (this.closedForGood) return;
    if (this.timer) clearTimeout(this.timer);
    this.attempt = 0;
    this.setState({ kind: 'connecting' });
    this.open();
  }

  private open(): void {
    if (this.closedForGood) return;
    const generation = ++this.generation;
    for (const record of this.streams) record.unsubscribe();
    void this.client?.dispose();
    const token = savedToken();
    const client = createClient({
      url: this.url,
      lazy: false,
      // The connection retries itself, so that each retry subscribes with the newest cursor.
      retryAttempts: 0,
      connectionParams: token ? { token } : {},
      onNonLazyError: () => {},
      on: {
        connected: () => {
          if (generation === this.generation) this.connected(client, generation);
        },
        closed: (event) => {
          if (generation === this.generation) this.lost(event as { code?: number; reason?: string });
        },
      },
    });
    this.client = client;
  }

  private connected(client: Client, generation: number): void {
    const resumed = this.everConnected ? ([...this.streams].find((s) => s.lastCursor !== null)?.lastCursor ?? null) : null;
    this.everConnected = true;
    this.attempt = 0;
    this.setState({ kind: 'connected', resumedFrom: resumed });
    for (const record of this.streams) void this.subscribe(record, client, generation);
  }

  private lost(event: { code?: number; reason?: string }): void {
    for (const record of this.streams) record.unsubscribe();
    const refused = event.code !== undefined ? REFUSED[event.code] : undefined;
    if (refused) {
      void this.client?.dispose();
      this.client = null;
      this.setState({ kind: 'refused', reason: refused });
      return;
    }
    this.attempt += 1;
    const reason = event.code === 1001 ? 'the gateway is going away' : event.reason || 'the connection was lost';
    this.setState({ kind: 'reconnecting', attempt: this.attempt, reason });
    const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (this.attempt - 1));
    const wait = backoff * (0.8 + Math.random() * 0.4);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), wait);
  }

  private async subscribe(record: StreamRecord, client: Client, generation: number): Promise<void> {
    record.unsubscribe();
    const current = () => generation === this.generation && !record.closed;
    let variables: Resumable;
    try {
      variables = await record.options.variables(record.lastCursor);
    } catch (error) {
      // The lookup it needed failed (the gateway went away meanwhile): the next socket tries again.
      console.warn('could not prepare a subscription', error);
      return;
    }
    if (!current()) return;
    record.lastCursor ??= variables.after ?? null;
    let ended = false;
    const dispose = client.subscribe<unknown>(
      { query: record.options.document.toString(), variables: { ...variables } },
      {
        next: (result) => {
          if (!current() || ended) return;
          if (!result.data) {
            if (result.errors?.length) this.failed(record, result.errors as StreamError[], client, generation);
            return;
          }
          const cursor = record.options.cursorOf(result.data);
          if (cursor !== null) record.lastCursor = cursor;
          record.options.next(result.data);
        },
        error: (error) => {
          ended = true;
          // A closed socket: `lost` resubscribes on the next one. GraphQL errors: the gateway ended the stream.
          if (Array.isArray(error) && current()) this.failed(record, error as StreamError[], client, generation);
        },
        complete: () => {
          ended = true;
        },
      },
    );
    record.unsubscribe = () => {
      ended = true;
      dispose();
    };
  }

  private failed(record: StreamRecord, errors: readonly StreamError[], client: Client, generation: number): void {
    record.unsubscribe();
    if (errors.some((e) => RESUMABLE.has(e.extensions?.code ?? ''))) {
      void this.subscribe(record, client, generation);
      return;
    }
    record.closed = true;
    this.streams.delete(record);
    record.options.error?.(errors);
  }
}

/** The WebSocket URL of this page's gateway. */
export function gatewaySocketUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === 'https:' ? 'wss:' : 'ws:'}//${host}/graphql`;
}
