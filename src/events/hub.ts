/**
 * The hub: in-process fan-out of published events to subscribers.
 *
 * Contract:
 * - `publish` is synchronous and never blocks on a subscriber: each
 *   subscriber has its own bounded queue. Events reach every subscriber in
 *   publication order.
 * - A subscriber that falls behind is not silently skipped. It is "slow" when
 *   its queue holds more than `limit` events, or when the oldest event waiting
 *   for it was queued more than `maxLagMs` ago (checked as events are
 *   published). Then its queue is dropped and its iterator yields one
 *   `overflow` delivery and ends, so the client gets an explicit
 *   SLOW_CONSUMER error. Bursts are normal (an evaluation commits thousands
 *   of build_queued at once), so the count bound is generous: queued entries
 *   are references to events shared by all subscribers.
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
 */
import type { Channel } from '../hydra/channels.js';
import { type GapNotice, type GatewayEvent, isGap } from './event.js';

/** What a subscriber's iterator yields. */
export type Delivery =
  | { kind: 'event'; event: GatewayEvent; gapBefore: GapNotice | null }
  | { kind: 'overflow'; limit: number; maxLagMs: number }
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
}

interface Subscriber {
  options: SubscribeOptions;
  queue: GatewayEvent[];
  /** When each queued event was queued (this machine's clock), in step with `queue`. */
  queuedAt: number[];
  overflowed: boolean;
  wake: (() => void) | null;
  done: boolean;
}

/** Fans events out to subscribers; see the module contract. */
export class EventHub {
  private readonly subscribers = new Set<Subscriber>();
  private closed = false;
  /** Subscriptions ended because they fell behind, since start. */
  overflows = 0;

  /** Number of live subscribers. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Queues `event` for every subscriber of its channel. */
  publish(event: GatewayEvent): void {
    const now = Date.now();
    for (const s of this.subscribers) {
      if ((!s.options.channels.has(event.channel) && !isGap(event)) || s.overflowed) continue;
      const oldest = s.queuedAt[0];
      const lagging = oldest !== undefined && now - oldest > (s.options.maxLagMs ?? Infinity);
      if (s.queue.length >= s.options.limit || lagging) {
        s.overflowed = true;
        s.queue.length = 0;
        s.queuedAt.length = 0;
        this.overflows++;
      } else {
        s.queue.push(event);
        s.queuedAt.push(now);
      }
      s.wake?.();
    }
  }

  /** A new subscriber's iterator; `return()` unsubscribes. */
  subscribe(options: SubscribeOptions): AsyncIterableIterator<Delivery> {
    const s: Subscriber = { options, queue: [], queuedAt: [], overflowed: false, wake: null, done: this.closed };
    let gapBefore: GapNotice | null = null;
    if (!this.closed) this.subscribers.add(s);
    const finish = (): IteratorResult<Delivery> => {
      s.done = true;
      this.subscribers.delete(s);
      s.wake?.();
      return { done: true, value: undefined };
    };
    const iterator: AsyncIterableIterator<Delivery> = {
      next: async () => {
        while (!s.done) {
          if (s.overflowed) {
            const value: Delivery = { kind: 'overflow', limit: options.limit, maxLagMs: options.maxLagMs ?? Infinity };
            finish();
            return { done: false, value };
          }
          const event = s.queue.shift();
          s.queuedAt.shift();
          if (!event) {
            await new Promise<void>((resolve) => (s.wake = resolve));
            s.wake = null;
            continue;
          }
          if (isGap(event) && !options.channels.has('gap')) {
            gapBefore = gapBefore ? { channel: 'gap', from: gapBefore.from, to: event.notice.to } : event.notice;
            continue;
          }
          try {
            if (isGap(event) || !options.accept || (await options.accept(event))) {
              const value: Delivery = { kind: 'event', event, gapBefore };
              gapBefore = null;
              return { done: false, value };
            }
          } catch (error) {
            finish();
            return { done: false, value: { kind: 'error', error: error as Error } };
          }
        }
        return { done: true, value: undefined };
      },
      return: async () => finish(),
      throw: async () => finish(),
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** Ends every subscription and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const s of [...this.subscribers]) {
      s.done = true;
      this.subscribers.delete(s);
      s.wake?.();
    }
  }
}
