/**
 * A subscriber of the fault tests: the `events` subscription over graphql-ws
 * or SSE, which records every event it receives (with its journal position)
 * and, when its stream ends while it should not, resumes as a client would:
 * over graphql-ws with `events(after: <last cursor>)`, over SSE with
 * `Last-Event-ID: <last cursor>`, on the instance `pick()` names (another one
 * when its own died). Each subscriber is disposed after the test file.
 *
 * What it received is compared with the journal by `expectJournal`: every
 * row from the first one it received to the end, once, in order.
 */
import { print } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { type Client, createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { decodeCursor } from '../../../src/journal/cursor.js';
import { authorization, tokenFor } from '../../support/clients.js';
import { doc } from '../../support/consumers.js';
import { onCleanup } from '../../support/gateway.js';
import type { JournalRow } from '../../support/journal.js';

/** What a subscriber keeps of one event. */
export interface Seen {
  typename: string;
  channel: string;
  payload: string;
  cursor: string;
  position: number;
  source: string;
  from?: string;
  to?: string;
}

/** Every event of every channel, gaps included, resumable after a cursor. */
export const EVENTS = doc<{ events: Omit<Seen, 'position' | 'typename'> & { __typename: string } }, { after?: string | null }>(
  `subscription ($after: String) { events(after: $after) { __typename channel payload cursor source ... on GapEvent { from to } } }`,
);

/** One resuming `events` subscriber; see the module contract. */
export class Subscriber {
  readonly seen: Seen[] = [];
  /** Times it subscribed again after its stream ended. */
  resumes = 0;
  /** Close codes of its WebSockets, in order. */
  readonly closeCodes: number[] = [];
  /** How each stream ended (errors as JSON), in order. */
  readonly endings: string[] = [];
  /** The instance it is subscribed to now. */
  url: string;
  private stopped = false;
  /** Ends the current subscription (and its client): `unsubscribe` when it is still open. */
  private dispose: (unsubscribe: boolean) => void = () => {};

  /**
   * Subscribes over `transport` to the instance `pick()` names (after the
   * cursor `after`, if given); after an end, `pick(deadUrl)` names where to
   * resume (null: stop).
   */
  constructor(
    readonly name: string,
    readonly transport: 'ws' | 'sse',
    private readonly pick: (previous: string | null) => string | null,
    private readonly after: string | null = null,
  ) {
    this.url = pick(null)!;
    this.subscribe();
    onCleanup(async () => this.stop());
  }

  /** The journal position of the last event received, or 0. */
  get position(): number {
    return this.seen.at(-1)?.position ?? 0;
  }

  /** Stops for good. */
  stop(): void {
    this.stopped = true;
    this.dispose(true);
  }

  private record(data: unknown): void {
    const result = data as { data?: { events: Omit<Seen, 'position' | 'typename'> & { __typename: string } }; errors?: unknown };
    if (!result.data) {
      this.endings.push(JSON.stringify(result.errors ?? result));
      return;
    }
    const { __typename, ...event } = result.data.events;
    this.seen.push({ ...event, typename: __typename, position: decodeCursor(event.cursor) });
  }

  private ended(how: string): void {
    this.endings.push(how);
    // Ended already: an unsubscribe would make graphql-ws's lazy client connect again to say so.
    this.dispose(false);
    if (this.stopped) return;
    const next = this.pick(this.url);
    if (next === null) return;
    this.url = next;
    this.resumes++;
    this.subscribe();
  }

  private subscribe(): void {
    const after = this.seen.at(-1)?.cursor ?? this.after;
    const url = this.url;
    let done = false;
    const sink = {
      next: (value: unknown) => this.record(value),
      error: (error: unknown) => {
        if (done) return;
        done = true;
        this.ended(`error ${error instanceof Error ? error.message : JSON.stringify(error)}`);
      },
      complete: () => {
        if (done) return;
        done = true;
        this.ended('complete');
      },
    };
    if (this.transport === 'ws') {
      const token = tokenFor(url);
      const client: Client = createWsClient({
        url: url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: token === null ? {} : { token },
        retryAttempts: 0,
        lazy: true,
        on: { closed: (event) => this.closeCodes.push((event as { code: number }).code) },
      });
      const unsubscribe = client.subscribe({ query: print(EVENTS), variables: { after } }, sink);
      this.dispose = (open) => {
        if (open) unsubscribe();
        // Rejects when its last connection attempt failed (its instance is gone): nothing to close then.
        Promise.resolve(client.dispose()).catch(() => {});
      };
    } else {
      const client = createSseClient({
        url,
        retryAttempts: 0,
        headers: () => ({ ...authorization(url), ...(after ? { 'last-event-id': after } : {}) }),
      });
      const unsubscribe = client.subscribe({ query: print(EVENTS) }, sink);
      this.dispose = (open) => {
        if (open) unsubscribe();
        client.dispose();
      };
    }
  }
}

/** How a subscriber's events compare with the journal: each row once, in order, from the first it received. */
export interface Comparison {
  name: string;
  transport: string;
  expected: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  resumes: number;
}

/** Compares what `subscriber` received with `journal` (from the first row it received to the end). */
export function compareWithJournal(subscriber: Subscriber, journal: readonly JournalRow[]): Comparison {
  const first = subscriber.seen[0]?.position ?? Infinity;
  const expected = journal.filter((r) => r.position >= first);
  const positions = subscriber.seen.map((s) => s.position);
  const counts = new Map<number, number>();
  for (const p of positions) counts.set(p, (counts.get(p) ?? 0) + 1);
  return {
    name: subscriber.name,
    transport: subscriber.transport,
    expected: expected.length,
    received: positions.length,
    lost: expected.filter((r) => !counts.has(r.position)).length,
    duplicated: [...counts.values()].reduce((n, c) => n + c - 1, 0),
    outOfOrder: positions.filter((p, i) => i > 0 && p <= positions[i - 1]!).length,
    resumes: subscriber.resumes,
  };
}

/** The events `subscriber` received as (position, channel, payload), and the journal rows they should be. */
export function asReceivedAndJournaled(subscriber: Subscriber, journal: readonly JournalRow[]) {
  const first = subscriber.seen[0]?.position ?? Infinity;
  return {
    received: subscriber.seen.map((s) => [s.position, s.channel, s.payload]),
    journaled: journal.filter((r) => r.position >= first).map((r) => [r.position, r.channel, r.kind === 'gap' ? '' : r.payload]),
  };
}
