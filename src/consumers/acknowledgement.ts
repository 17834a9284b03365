/**
 * Acknowledging `build_finished` occurrences: the rule, in one place.
 *
 * Contract:
 * - Without a consumer, an acknowledgement is compare-and-set on Hydra's own
 *   column (one statement, hydra/queries/acknowledgeBuilds.ts); an observer
 *   never writes it (OBSERVER_MODE).
 * - With a consumer, one transaction: in owner mode, first the row locks on
 *   the `builds` rows named (in id order), then compare-and-set on the
 *   consumer's own occurrences, then clearing Hydra's column for those no
 *   active consumer still has pending. The locks serialize acknowledgements
 *   of the same builds across consumers, and each statement takes a fresh
 *   snapshot (READ COMMITTED), so the last consumer to acknowledge always sees
 *   the others' acknowledgements and clears the column: it can never stay
 *   set because two consumers acknowledged at the same moment. An observer
 *   takes no lock on Hydra's rows (it needs no UPDATE grant).
 * - Pausing or removing a consumer (owner mode) may complete occurrences the
 *   others acknowledged already: `settleHeld` clears them, under the same
 *   locks, in the transaction of the change.
 * - Answers come item by item, in request order, as `AckResult`s.
 */
import type pg from 'pg';
import type { Queryable } from '../db/queryable.js';
import { inTransaction } from '../db/transaction.js';
import { errors } from '../errors.js';
import { clearPendingColumn, type ColumnAck } from '../hydra/queries/acknowledgeBuilds.js';
import { type Occurrence, toUnix } from '../hydra/rows.js';
import { acknowledgeOccurrences, clearFullyAcknowledged, lockBuilds, type OccurrenceAck, unacknowledgedOf } from './queries/acknowledge.js';

/** Who clears Hydra's `notificationpendingsince`. */
export type Mode = 'owner' | 'observer';

/** Most items one batch may carry, unless configured otherwise (`HNG_MAX_ACK_BATCH`). */
export const MAX_BATCH = 1_000;

/** One acknowledgement, as a client sends it. */
export interface AckRequest {
  buildId: number;
  /** The finish processed: the `pendingSince` it was delivered with. */
  pendingSince: Date;
}

/** What became of one acknowledgement. */
export type AckOutcome = 'ACKNOWLEDGED' | 'ALREADY_ACKNOWLEDGED' | 'STALE' | 'NOT_FINISHED' | 'NOT_PENDING' | 'NOT_FOUND';

/** The answer to one acknowledgement. */
export interface AckResult {
  buildId: number;
  outcome: AckOutcome;
  /** The finish of the build still pending after the call (for STALE: the newer one), Unix seconds. */
  currentPendingSince: number | null;
}

/** Checks requests and turns them into occurrences: LIMIT_EXCEEDED for a batch too long, BAD_USER_INPUT for an instant Hydra cannot store. */
export function toOccurrences(requests: readonly AckRequest[], maxBatch: number): Occurrence[] {
  if (requests.length > maxBatch) {
    throw errors.limitExceeded(`at most ${maxBatch} items per batch, got ${requests.length}`, 'HNG_MAX_ACK_BATCH');
  }
  return requests.map(({ buildId, pendingSince }) => {
    try {
      return { buildId, pendingSince: toUnix(pendingSince) };
    } catch (error) {
      throw errors.badInput((error as Error).message);
    }
  });
}

function columnOutcome({ buildId, pendingSince }: Occurrence, row: ColumnAck): AckResult {
  if (!row.found) return { buildId, outcome: 'NOT_FOUND', currentPendingSince: null };
  if (row.cleared) return { buildId, outcome: 'ACKNOWLEDGED', currentPendingSince: null };
  if (!row.finished) return { buildId, outcome: 'NOT_FINISHED', currentPendingSince: row.pending };
  // The snapshot may predate a concurrent acknowledgement that won the row
  // lock: it still shows our value, but the update found it cleared.
  if (row.pending === null || row.pending === pendingSince) return { buildId, outcome: 'ALREADY_ACKNOWLEDGED', currentPendingSince: null };
  return { buildId, outcome: 'STALE', currentPendingSince: row.pending };
}

function occurrenceOutcome({ buildId }: Occurrence, row: OccurrenceAck): AckResult {
  if (!row.found) return { buildId, outcome: 'NOT_FOUND', currentPendingSince: null };
  if (row.acknowledged) return { buildId, outcome: 'ACKNOWLEDGED', currentPendingSince: null };
  // Existed but not acknowledged here: acknowledged before, or by a concurrent call that won the row lock.
  if (row.existed) return { buildId, outcome: 'ALREADY_ACKNOWLEDGED', currentPendingSince: row.newer };
  if (row.newer !== null) return { buildId, outcome: 'STALE', currentPendingSince: row.newer };
  if (!row.finished) return { buildId, outcome: 'NOT_FINISHED', currentPendingSince: null };
  // Finished, but never in this consumer's pending set (the finish predates it).
  return { buildId, outcome: 'NOT_PENDING', currentPendingSince: null };
}

/** Acknowledges on Hydra's column (consumer null) or for one consumer; see the module contract. */
export async function acknowledge(
  pool: pg.Pool,
  mode: Mode,
  consumer: string | null,
  occurrences: readonly Occurrence[],
): Promise<AckResult[]> {
  if (consumer === null) {
    if (mode === 'observer') throw errors.observerMode();
    const rows = await clearPendingColumn(pool, occurrences);
    return rows.map((row, i) => columnOutcome(occurrences[i]!, row));
  }
  return inTransaction(pool, async (tx) => {
    if (mode === 'owner')
      await lockBuilds(
        tx,
        occurrences.map((o) => o.buildId),
      );
    const results = (await acknowledgeOccurrences(tx, consumer, occurrences)).map((row, i) => occurrenceOutcome(occurrences[i]!, row));
    if (mode === 'owner')
      await clearFullyAcknowledged(
        tx,
        occurrences.filter((_, i) => results[i]!.outcome === 'ACKNOWLEDGED'),
      );
    return results;
  });
}

/**
 * Runs `change` (pausing or removing `consumer`) in `tx`; in owner mode, the
 * occurrences the consumer held back are cleared from Hydra's column if no
 * other active consumer holds them. Returns what `change` returned.
 */
export async function settleHeld(tx: Queryable, mode: Mode, consumer: string, change: () => Promise<boolean>): Promise<boolean> {
  const held = mode === 'owner' ? await unacknowledgedOf(tx, consumer) : [];
  await lockBuilds(
    tx,
    held.map((h) => h.buildId),
  );
  const changed = await change();
  if (changed) await clearFullyAcknowledged(tx, held);
  return changed;
}
