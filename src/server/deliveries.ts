/**
 * Counting what subscriptions write: the yoga plugin that tells the metrics
 * (metrics.ts) when a subscription starts and ends on a transport, and each
 * event written to one.
 *
 * Contract: every subscription runs through yoga's envelop pipeline, over
 * WebSocket and SSE alike, so one plugin sees them all. A subscription is
 * counted once its source stream exists (a subscribe that failed is not) and
 * uncounted when that stream ends, however it ends (the client left, the
 * server ended it, shutdown). A result is counted as its transport takes it,
 * after the client's selection executed and right before the frame is
 * written, with the event the subscription resolver noted on the
 * operation's context (`lastDelivered`, schema/events/common.ts); a result
 * without one (an error that ends the subscription) is no delivery.
 */
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../schema/builder.js';
import type { GatewayMetrics, MetricsTransport } from './metrics.js';

/** The transport of an operation: its WebSocket, or the kind of its streamed HTTP response. */
function transportOf(context: Context & { request?: Request }): MetricsTransport {
  if (context.transport?.kind === 'ws') return 'ws';
  return (context.request?.headers.get('accept') ?? '').includes('text/event-stream') ? 'sse' : 'http';
}

/**
 * The yoga plugin that counts subscriptions by transport and every event
 * written to one: a result is counted as its transport takes it (after the
 * client's selection executed, right before the frame is written), with the
 * event the resolver noted on the context (`lastDelivered`).
 */
export function useDeliveryMetrics(metrics: GatewayMetrics): Plugin<Record<string, unknown>> {
  return {
    onSubscribe({ args }) {
      const context = args.contextValue as unknown as Context & { request?: Request };
      const transport = transportOf(context);
      return {
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in (result as object))) return;
          metrics.subscribed(transport);
          return {
            onNext() {
              const delivered = context.lastDelivered;
              context.lastDelivered = undefined;
              if (delivered) metrics.delivered(delivered, transport);
            },
            onEnd() {
              metrics.unsubscribed(transport);
            },
          };
        },
      };
    },
  };
}
