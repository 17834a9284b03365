/**
 * Counting what subscriptions write: when a subscription starts and ends on a
 * transport, and each event written to one (metrics.ts).
 *
 * Contract: a subscription is counted once its source stream exists (a
 * subscribe that failed is not) and uncounted when that stream ends, however
 * it ends (the client left, the server ended it, shutdown). A result is
 * counted as its transport takes it, after the client's selection executed
 * and right before the frame is written, with the event the subscription
 * resolver noted on the operation's context (`lastDelivered`,
 * schema/events/common.ts); a result without one (an error that ends the
 * subscription) is no delivery. Shared subscriptions (shared.ts) leave the
 * yoga pipeline before its result hooks and count themselves with
 * `countSubscription`, passing each frame's note; every other subscription
 * is counted by the `useDeliveryMetrics` plugin, over WebSocket and SSE
 * alike. A count keeps only the transport it read from the context, not
 * the context.
 */
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../schema/builder.js';
import type { GatewayMetrics, MetricsTransport } from './metrics.js';

/** The transport of an operation: its WebSocket, an SSE stream, or one HTTP answer. */
function transportOf(context: Context): MetricsTransport {
  if (context.transport?.kind === 'ws') return 'ws';
  return context.transport?.eventStream ? 'sse' : 'http';
}

/** The counts of one subscription whose stream exists: `next` as its transport takes a result, `end` once. */
export interface SubscriptionCount {
  /** A result taken, noting `delivered` (none: an ending, no delivery). */
  next(delivered: Context['lastDelivered']): void;
  end(): void;
}

/** The counts of one subscription: a class, so that a subscriber holds one object and no closures. */
class Count implements SubscriptionCount {
  private ended = false;

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly transport: MetricsTransport,
  ) {
    metrics.subscribed(transport);
  }

  next(delivered: Context['lastDelivered']): void {
    if (delivered) this.metrics.delivered(delivered, this.transport);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.metrics.unsubscribed(this.transport);
  }
}

/** Counts a subscription whose source stream now exists; see the module contract. */
export function countSubscription(metrics: GatewayMetrics, context: Context): SubscriptionCount {
  return new Count(metrics, transportOf(context));
}

/** The yoga plugin that counts the subscriptions that run through the whole pipeline (not shared ones). */
export function useDeliveryMetrics(metrics: GatewayMetrics): Plugin<Record<string, unknown>> {
  return {
    onSubscribe({ args }) {
      const context = args.contextValue as unknown as Context;
      return {
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in (result as object))) return;
          const count = countSubscription(metrics, context);
          return {
            onNext() {
              count.next(context.lastDelivered);
              context.lastDelivered = undefined;
            },
            onEnd: () => count.end(),
          };
        },
      };
    },
  };
}
