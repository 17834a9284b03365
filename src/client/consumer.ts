/**
 * The consumer loop: receive a consumer's pending `build_finished`
 * deliveries, process each, acknowledge it with compare-and-set on
 * (buildId, pendingSince), and say what the acknowledgement found.
 *
 * Contract:
 * - One delivery at a time, in the order the gateway delivers them: the
 *   handler's promise settles before the next delivery is taken.
 * - A delivery is acknowledged only after its handler resolved. A handler
 *   that throws leaves it unacknowledged: the gateway delivers it again after
 *   its visibility timeout (`onHandlerError` is told; without one the loop
 *   stops and rejects with the error).
 * - An acknowledgement that cannot reach the gateway (it restarts, the
 *   network) or that the gateway could not answer now (DATABASE_UNAVAILABLE:
 *   its database is away) is retried with backoff until it gets an answer, before the
 *   next delivery is processed; the answer's outcome is surfaced through
 *   `onAcknowledged`: ACKNOWLEDGED, ALREADY_ACKNOWLEDGED (someone, perhaps a
 *   retry of ours, did it first), STALE (the build finished again since:
 *   the newer finish, `currentPendingSince`, is delivered on its own),
 *   NOT_FINISHED (restarted meanwhile), NOT_PENDING (never pending for this
 *   consumer), NOT_FOUND (the build is gone).
 * - Processing is at least once, as the gateway's deliveries are; within one
 *   loop an occurrence already processed is never handed to the handler
 *   again (a redelivery after a reconnect or a lapsed visibility timeout is
 *   acknowledged again instead). Across processes, make the handler
 *   idempotent per (buildId, pendingSince).
 * - The loop ends when `signal` aborts (resolves), or when the subscription
 *   fails for good (rejects: a bad token, an unknown consumer, …).
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { EventOf, GatewayClient } from './client.js';
import { GatewayResponseError, RETRY_LATER_CODES } from './errors.js';
import {
  type AcknowledgeOutcome,
  AcknowledgeBuildFinishedDocument,
  ConsumerBuildFinishedDocument,
  type ConsumerBuildFinishedSubscription,
} from './generated/operations.js';

/** What a consumer's delivery must carry: the occurrence to acknowledge. */
export interface OccurrenceFields {
  buildId: number;
  pendingSince: string | null;
}

/** A delivery of the default document (`ConsumerBuildFinished`). */
export type ConsumerDelivery = ConsumerBuildFinishedSubscription['buildFinished'];

/** What an acknowledgement found, NOT_FOUND included (the build is gone). */
export type AckOutcome = AcknowledgeOutcome | 'NOT_FOUND';

/** The answer to one acknowledgement. */
export interface Acknowledgement<E extends OccurrenceFields = ConsumerDelivery> {
  delivery: E;
  outcome: AckOutcome;
  /** The finish of the build still pending for the consumer after the call (for STALE: the newer one). */
  currentPendingSince: string | null;
}

/** What `runConsumer` needs. */
export interface ConsumerLoopOptions<E extends OccurrenceFields> {
  /** The consumer's name (`consumers create`, or the `createConsumer` mutation). */
  consumer: string;
  /** Processes one delivery; resolve when done (then it is acknowledged), throw to leave it pending. */
  handle: (delivery: E) => unknown;
  /** Told each acknowledgement's outcome. */
  onAcknowledged?: (ack: Acknowledgement<E>) => void;
  /** Told when the handler threw; the delivery stays pending. Without it the loop rejects with the error. */
  onHandlerError?: (error: unknown, delivery: E) => void;
  /** Told each time the loop subscribes again after a disconnect (the connection itself: `GatewayClientOptions.onState`). */
  onResume?: () => void;
  /** Ends the loop. */
  signal?: AbortSignal;
  /**
   * Largest delay between attempts of an acknowledgement the gateway did not answer.
   * @default 5_000 // 5 seconds
   */
  ackRetryMaxMs?: number;
  /**
   * Occurrences remembered as processed, so a redelivery is not processed again.
   * @default 10_000
   */
  remember?: number;
}

/** A document of `buildFinished(consumer: $consumer)` selecting at least `buildId` and `pendingSince`. */
export type ConsumerDocument<E extends OccurrenceFields> = TypedDocumentNode<{ buildFinished: E }, { consumer: string }>;

/** Whether an error means the gateway did not answer, or could not now (so asking again may work). */
function unanswered(error: unknown): boolean {
  if (!(error instanceof GatewayResponseError)) return true;
  if (error.errors.length > 0 && error.errors.every((e) => RETRY_LATER_CODES.includes(String(e.extensions?.code)))) return true;
  return error.errors.length === 0 && (error.status === null || error.status >= 500);
}

function abortable(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Acknowledges one occurrence for `consumer`, asking again until the gateway answers (or `signal` aborts: null). */
async function acknowledge(
  client: GatewayClient,
  consumer: string,
  occurrence: OccurrenceFields & { pendingSince: string },
  retryMaxMs: number,
  signal?: AbortSignal,
): Promise<{ outcome: AckOutcome; currentPendingSince: string | null } | null> {
  for (let attempt = 0; !signal?.aborted; attempt++) {
    try {
      const { acknowledgeBuildFinished: answer } = await client.request(AcknowledgeBuildFinishedDocument, {
        consumer,
        buildId: occurrence.buildId,
        pendingSince: occurrence.pendingSince,
      });
      return { outcome: answer.outcome, currentPendingSince: answer.pendingSince };
    } catch (error) {
      if (error instanceof GatewayResponseError && error.code === 'NOT_FOUND') return { outcome: 'NOT_FOUND', currentPendingSince: null };
      if (!unanswered(error)) throw error;
      await abortable(Math.min(retryMaxMs, 250 * 2 ** attempt), signal);
    }
  }
  return null;
}

/**
 * Runs the consumer loop (see the module contract) with the default
 * document, `ConsumerBuildFinished`, or one of your own that selects more.
 */
export async function runConsumer<E extends OccurrenceFields = ConsumerDelivery>(
  client: GatewayClient,
  options: ConsumerLoopOptions<E>,
  document: ConsumerDocument<E> = ConsumerBuildFinishedDocument as unknown as ConsumerDocument<E>,
): Promise<void> {
  const { consumer, signal } = options;
  const remember = options.remember ?? 10_000;
  const processed = new Set<string>();
  const subscription = client.subscribe(document, { consumer } as never, { signal, onResume: options.onResume });
  for await (const delivery of subscription as AsyncIterable<EventOf<ConsumerDocument<E>>>) {
    const occurrence = delivery as E;
    // An occurrence acknowledged before it was read: nothing to acknowledge (the gateway sends none such to a consumer).
    if (occurrence.pendingSince === null) continue;
    const key = `${occurrence.buildId}@${occurrence.pendingSince}`;
    if (!processed.has(key)) {
      try {
        await options.handle(occurrence);
      } catch (error) {
        if (!options.onHandlerError) {
          subscription.close();
          throw error;
        }
        options.onHandlerError(error, occurrence);
        continue;
      }
      processed.add(key);
      if (processed.size > remember) processed.delete(processed.values().next().value!);
    }
    const answer = await acknowledge(
      client,
      consumer,
      { buildId: occurrence.buildId, pendingSince: occurrence.pendingSince },
      options.ackRetryMaxMs ?? 5_000,
      signal,
    ).catch((error: unknown) => {
      subscription.close();
      throw error;
    });
    if (answer) options.onAcknowledged?.({ delivery: occurrence, ...answer });
  }
}
