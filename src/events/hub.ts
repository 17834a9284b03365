/**
 * The hub: in-process fan-out of published events to subscribers.
 *
 * Contract:
 * - `publish` is synchronous and never blocks on a subscriber: each
 *   subscriber has its own bounded queue. Events reach every subscriber in
 *   publication order.
 * - A subscriber that falls behind is not silently skipped. It is "slow" when
 *   its queue holds more than `limit` events, when the oldest event waiting
 *   for it was queued more than `maxLagMs` ago, or when its connection holds
 *   more than `maxBufferedBytes` the client has not taken (`buffered`: what
 *   waits in the socket's own buffer counts too). This is checked as events
 *   are published and every second by `sweep`, so a client that stopped
 *   reading is found even when nothing more is published. Then its queue is
 *   dropped, `onSlow` is told, and its iterator yields one `overflow`
 *   delivery and ends, so the client gets an explicit SLOW_CONSUMER error.
 *   Bursts are normal (an evaluation commits thousands of build_queued at
 *   once), so the count bound is generous: queued entries are references to
 *   events shared by all subscribers.
 * - A subscriber's `accept` predicate (its filter, which may load rows) runs
 *   when the subscriber pulls the event, one event at a time, so a slow
 *   filter cannot reorder events. If it throws, the iterator yields one
 *   `error` delivery and ends: a row that cannot be loaded must not become a
 *   quiet gap.
 * - Gaps (windows no instance listened) reach every subscriber, whatever its
 *   channels: as a delivery of their own to those that asked for 'gap', and
 *   otherwise attached to the next event delivered after them
 *   (`gapBefore`), so no subscriber crosses a gap unknowingly.
 * - `close()` ends every iterator (used on shutdown).
 * - `listens(channel)` says whether a live subscriber wants the channel now
 *   (a count kept as subscribers come and go), for work worth doing ahead of
 *   an event only when someone will receive it (events/prefetch.ts).
 * - A subscriber is read either as an async iterator (`next`) or by `poll`,
 *   the same deliveries without a suspended function per idle subscriber:
 *   `poll` answers at once (a delivery, the end, or null when nothing is
 *   queued: the waiter it was given is then woken once, when something is),
 *   or with a promise while a filter loads rows. A waiter may be woken while
 *   it is still handling a poll's promise that resolved to null: it polls
 *   again (see `Waiter`).
 */
import type { Channel } from '../hydra/channels.js';
import { type GapNotice, type GatewayEvent, isGap } from './event.js';

/**
 * What a subscriber's iterator yields. An event read back from the journal
 * for a resuming subscriber (events/replay.ts) is `replayed`: it is not live,
 * so it does not count towards the delivery lag.
 */
export type Delivery =
  | { kind: 'event'; event: GatewayEvent; gapBefore: GapNotice | null; replayed?: boolean }
  | { kind: 'overflow'; why: string }
  | { kind: 'error'; error: Error };

/** How one subscriber wants events. */
export interface SubscribeOptions {
  /** The channels wanted; 'gap' to receive gaps as deliveries of their own. */
  channels: ReadonlySet<Channel | 'gap'>;
  /** Whether the subscriber wants this event (its filter). */
  accept?: (event: GatewayEvent) => boolean | Promise<boolean>;
  /** Queue bound; exceeding it ends the subscription with `overflow`. */
  limit: number;
  /** Largest age of the oldest waiting event before `overflow`. @default Infinity */
  maxLagMs?: number;
  /** Bytes the subscriber's connection holds that the client has not taken. */
  buffered?: () => number;
  /** Largest `buffered()` before `overflow`. @default Infinity */
  maxBufferedBytes?: number;
  /** Told once, when the subscriber is found slow, why. */
  onSlow?: (why: string) => void;
}

/**
 * Who waits for a subscriber's next delivery: woken once, when something is
 * queued (or the subscription ends), after a `poll` that found nothing. A
 * wake may come while the waiter is still handling that poll's promise; it
 * must then poll again rather than wait.
 */
export interface Waiter {
  wake(): void;
}

interface Subscriber {
  options: SubscribeOptions;
  queue: GatewayEvent[];
  /** When each queued event was queued (this machine's clock), in step with `queue`. */
  queuedAt: number[];
  overflowed: boolean;
  /** Why it was found slow. */
  why: string | null;
  waiter: Waiter | null;
  done: boolean;
}

/** A subscriber's side of the hub: an async iterator, and `poll` (see the module contract). */
export interface SubscriberStream extends AsyncIterableIterator<Delivery> {
  poll(waiter: Waiter): IteratorResult<Delivery> | null | Promise<IteratorResult<Delivery> | null>;
}

/** The live subscribers, and how many want each channel. */
class Subscribers {
  private readonly all = new Set<Subscriber>();
  private readonly byChannel = new Map<Channel | 'gap', number>();

  get size(): number {
    return this.all.size;
  }

  [Symbol.iterator](): IterableIterator<Subscriber> {
    return this.all.values();
  }

  add(s: Subscriber): void {
    if (this.all.has(s)) return;
    this.all.add(s);
    for (const channel of s.options.channels) this.byChannel.set(channel, (this.byChannel.get(channel) ?? 0) + 1);
  }

  delete(s: Subscriber): void {
    if (!this.all.delete(s)) return;
    for (const channel of s.options.channels) {
      const left = this.byChannel.get(channel)! - 1;
      if (left === 0) this.byChannel.delete(channel);
      else this.byChannel.set(channel, left);
    }
  }

  wants(channel: Channel): boolean {
    return this.byChannel.has(channel);
  }
}

/** Wakes the subscriber's waiter, once. */
function wakeUp(s: Subscriber): void {
  const { waiter } = s;
  if (!waiter) return;
  s.waiter = null;
  waiter.wake();
}

/** Fans events out to subscribers; see the module contract. */
export class EventHub {
  private readonly subscribers = new Subscribers();
  private closed = false;
  /** Subscriptions ended because they fell behind, since start. */
  overflows = 0;

  /** Number of live subscribers. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Whether a live subscriber wants `channel`'s events now. */
  listens(channel: Channel): boolean {
    return this.subscribers.wants(channel);
  }

  private sweeper: NodeJS.Timeout | null = null;

  /** Queues `event` for every subscriber of its channel. */
  publish(event: GatewayEvent): void {
    const now = Date.now();
    for (const s of this.subscribers) {
      if ((!s.options.channels.has(event.channel) && !isGap(event)) || s.overflowed) continue;
      const why = s.queue.length >= s.options.limit ? `more than ${s.options.limit} events waiting` : this.slowness(s, now);
      if (why) this.overflow(s, why);
      else {
        s.queue.push(event);
        s.queuedAt.push(now);
      }
      wakeUp(s);
    }
  }

  /** Checks every subscriber that has events waiting for lag and unsent bytes; runs every second once started. */
  sweep(): void {
    const now = Date.now();
    for (const s of this.subscribers) {
      if (s.overflowed || s.queue.length === 0) continue;
      const why = this.slowness(s, now);
      if (why) {
        this.overflow(s, why);
        wakeUp(s);
      }
    }
  }

  /** Sweeps every second from now on. */
  start(): void {
    this.sweeper ??= setInterval(() => this.sweep(), 1_000);
    this.sweeper.unref();
  }

  private slowness(s: Subscriber, now: number): string | null {
    const oldest = s.queuedAt[0];
    const maxLagMs = s.options.maxLagMs ?? Infinity;
    if (oldest !== undefined && now - oldest > maxLagMs) return `an event waiting longer than ${maxLagMs} ms`;
    const buffered = s.options.buffered?.() ?? 0;
    const maxBytes = s.options.maxBufferedBytes ?? Infinity;
    if (buffered > maxBytes) return `${buffered} bytes unsent on its connection, more than ${maxBytes}`;
    return null;
  }

  private overflow(s: Subscriber, why: string): void {
    s.overflowed = true;
    s.why = why;
    s.queue.length = 0;
    s.queuedAt.length = 0;
    this.overflows++;
    s.options.onSlow?.(why);
  }

  /** A new subscriber's stream; `return()` unsubscribes. */
  subscribe(options: SubscribeOptions): SubscriberStream {
    const s: Subscriber = { options, queue: [], queuedAt: [], overflowed: false, why: null, waiter: null, done: this.closed };
    if (!this.closed) this.subscribers.add(s);
    return new SubscriberIterator(s, this.subscribers);
  }

  /** Ends every subscription and refuses new ones. */
  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const s of [...this.subscribers]) {
      s.done = true;
      this.subscribers.delete(s);
      wakeUp(s);
    }
  }
}

/**
 * A subscriber's side of the hub. A class, not an object of closures: an idle
 * subscriber holds one small object, its methods are shared (each closure made
 * per subscriber costs its own memory, and more under tsx's keepNames, which
 * the command's `serve` and the tests run; `npm start` runs tsc's build).
 */
class SubscriberIterator implements SubscriberStream, Waiter {
  /** Gaps this subscriber did not ask for, merged, to be noted on its next event. */
  private gapBefore: GapNotice | null = null;
  /** What `next` waits on, while it does. */
  private resolveWait: (() => void) | null = null;
  /** A wake that came before `next` waited. */
  private woken = false;

  constructor(
    private readonly s: Subscriber,
    private readonly subscribers: Subscribers,
  ) {}

  /**
   * The next delivery if one can be had without waiting for the hub: a
   * delivery, the end, or null when nothing is queued (`waiter` is woken once
   * something is); a promise while the filter loads rows. See the module
   * contract.
   */
  poll(waiter: Waiter): IteratorResult<Delivery> | null | Promise<IteratorResult<Delivery> | null> {
    const { s } = this;
    const { options } = s;
    while (!s.done) {
      if (s.overflowed) {
        const value: Delivery = { kind: 'overflow', why: s.why ?? 'it fell behind' };
        this.finish();
        return { done: false, value };
      }
      const event = s.queue.shift();
      s.queuedAt.shift();
      if (!event) {
        // An idle subscriber keeps no room for the events it once had queued.
        s.queue.length = 0;
        s.queuedAt.length = 0;
        s.waiter = waiter;
        return null;
      }
      if (isGap(event) && !options.channels.has('gap')) {
        this.gapBefore = this.gapBefore ? { channel: 'gap', from: this.gapBefore.from, to: event.notice.to } : event.notice;
        continue;
      }
      if (isGap(event) || !options.accept) return this.delivered(event);
      let accepted: boolean | Promise<boolean>;
      try {
        accepted = options.accept(event);
      } catch (error) {
        return this.failed(error as Error);
      }
      if (accepted instanceof Promise) {
        return accepted.then(
          (yes) => (yes ? this.delivered(event) : this.poll(waiter)),
          (error: Error) => this.failed(error),
        );
      }
      if (accepted) return this.delivered(event);
    }
    return { done: true, value: undefined };
  }

  async next(): Promise<IteratorResult<Delivery>> {
    for (;;) {
      const polled = this.poll(this);
      const next = polled instanceof Promise ? await polled : polled;
      if (next !== null) return next;
      if (this.woken) this.woken = false;
      else await new Promise<void>((resolve) => (this.resolveWait = resolve));
    }
  }

  /** The hub's wake, for `next`. */
  wake(): void {
    const resolve = this.resolveWait;
    this.resolveWait = null;
    if (resolve) resolve();
    else this.woken = true;
  }

  async return(): Promise<IteratorResult<Delivery>> {
    return this.finish();
  }

  async throw(): Promise<IteratorResult<Delivery>> {
    return this.finish();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Delivery> {
    return this;
  }

  private delivered(event: GatewayEvent): IteratorResult<Delivery> {
    const value: Delivery = { kind: 'event', event, gapBefore: this.gapBefore };
    this.gapBefore = null;
    return { done: false, value };
  }

  private failed(error: Error): IteratorResult<Delivery> {
    this.finish();
    return { done: false, value: { kind: 'error', error } };
  }

  private finish(): IteratorResult<Delivery> {
    this.s.done = true;
    this.subscribers.delete(this.s);
    wakeUp(this.s);
    return { done: true, value: undefined };
  }
}
