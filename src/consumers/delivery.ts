/**
 * A consumer's subscription: its pending occurrences first, then new ones as
 * they are journaled, each leased to this subscriber until acknowledged or
 * until the visibility timeout passes (then delivered again).
 *
 * Contract: the occurrences table is the truth and every wake-up only makes
 * the subscription claim again: a build_finished published on this instance
 * (its occurrences were committed with its journal row), a consumer hint on
 * `hng_consumer` (a redelivery, a resume, a reconciliation that added
 * occurrences, leases released by a subscription that ended; from any
 * instance), or a timer at half the visibility timeout. Claims are oldest
 * first, a few at a time, so a slow client holds few leases. A claim that
 * finds the database away (errors.ts's `isDatabaseUnavailable`) does not end
 * the subscription: it is tried again after a jittered backoff (db/backoff.ts,
 * 250 ms up to 5 s), or at the next wake if one comes sooner. When the subscription ends
 * (the client left or dropped), its unacknowledged leases are released at
 * once and a hint wakes the consumer's other subscriptions, on any instance,
 * to claim them.
 */
import { randomUUID } from 'node:crypto';
import { backoffDelay } from '../db/backoff.js';
import type { Queryable } from '../db/queryable.js';
import { createEvent } from '../events/event.js';
import type { Delivery, EventHub } from '../events/hub.js';
import { interruptible } from '../events/stream.js';
import type { Loaders } from '../hydra/loaders.js';
import { isDatabaseUnavailable } from '../errors.js';
import type { Log } from '../log.js';
import type { ConsumerHints } from './hints.js';
import { type Claimed, claimOccurrences, releaseLeases } from './queries/claim.js';

/** Occurrences leased per claim. */
const CLAIM = 10;

/** After a claim found the database away, the next one comes after a jittered backoff between these. */
const CLAIM_RETRY_MIN_MS = 250;
const CLAIM_RETRY_MAX_MS = 5_000;

/** What a consumer subscription needs. */
export interface ConsumeOptions {
  db: Queryable;
  hub: EventHub;
  hints: ConsumerHints;
  consumer: string;
  /** How long a delivered occurrence waits for its acknowledgement before it is delivered again. */
  visibilityMs: number;
  log: Log;
}

/** The delivery of one occurrence of `consumer`, as its subscribers (and a webhook bound to it) receive it; `shared`: the loader set of a batch rendered together. */
export function occurrenceDelivery(db: Queryable, consumer: string, claimed: Claimed, shared?: Loaders): Delivery {
  const event = createEvent(
    db,
    {
      position: claimed.journalPosition ?? 0,
      notice: { channel: 'build_finished', buildId: claimed.buildId, dependentIds: [], selfListed: false },
      payload: String(claimed.buildId),
      receivedAt: new Date(),
      source: claimed.journalPosition === null ? 'RECOVERED' : 'LIVE',
      pendingSince: claimed.pendingSince,
      delivery: { consumer, count: claimed.deliveries },
    },
    shared,
  );
  return { kind: 'event', event, gapBefore: null };
}

/** Streams the occurrences of an existing consumer; see the module contract. */
export function consume(options: ConsumeOptions): AsyncIterableIterator<Delivery> {
  const control: Control = { closed: false, wake: null };
  return interruptible(stream(options, control), () => {
    control.closed = true;
    control.wake?.();
  });
}

interface Control {
  closed: boolean;
  wake: (() => void) | null;
}

async function* stream(options: ConsumeOptions, control: Control): AsyncGenerator<Delivery> {
  const { db, hub, hints, consumer, visibilityMs, log } = options;
  const session = randomUUID();
  let woken = true;
  /** Claims failed in a row because the database was away. */
  let outage = 0;
  const poke = () => {
    woken = true;
    control.wake?.();
  };
  const stopHints = hints.on(consumer, poke);
  const timer = setInterval(poke, Math.max(100, Math.floor(visibilityMs / 2)));
  const live = hub.subscribe({ channels: new Set(['build_finished']), limit: Number.MAX_SAFE_INTEGER });
  void (async () => {
    for await (const _ of live) poke();
  })();
  try {
    while (!control.closed) {
      if (!woken) await new Promise<void>((resolve) => (control.wake = resolve));
      control.wake = null;
      if (control.closed) break;
      woken = false;
      let claimed: Claimed[];
      try {
        claimed = await claimOccurrences(db, { consumer, session, visibilityMs, limit: CLAIM });
        outage = 0;
      } catch (error) {
        if (!isDatabaseUnavailable(error)) throw error;
        // The database is away: nothing was claimed and the table stays the truth, so the
        // subscription stays and looks again after the backoff, or at the next wake if one comes sooner.
        if (outage === 0)
          log.warn(`claiming occurrences of ${consumer} failed: the database is away; trying again`, {
            consumer,
            error: (error as Error).message,
          });
        setTimeout(poke, backoffDelay(outage++, CLAIM_RETRY_MIN_MS, CLAIM_RETRY_MAX_MS)).unref();
        continue;
      }
      for (const item of claimed) yield occurrenceDelivery(db, consumer, item);
      if (claimed.length === CLAIM) woken = true;
    }
  } finally {
    stopHints();
    clearInterval(timer);
    await live.return?.();
    await releaseLeases(db, consumer, session).catch((error: Error) =>
      log.warn('could not release leases', { consumer, error: error.message }),
    );
  }
}
