/**
 * The recorder's own statements: its advisory lock, its heartbeat, and the
 * state row (`hydra_notify_gateway.recorder`) that tells the next recorder
 * when the last one was last known to listen.
 */
import type { Queryable } from '../../db/queryable.js';

/** Advisory lock key of the recorder role ("hngrec" in ASCII). */
export const RECORDER_LOCK = '114830478501219';

/** Tries to take the recorder lock for this session; true when held. */
export async function tryRecorderLock(db: Queryable): Promise<boolean> {
  const { rows } = await db.query('/* tryRecorderLock */ SELECT pg_try_advisory_lock($1::bigint) AS held', [RECORDER_LOCK]);
  return rows[0].held === true;
}

/** The last recorder and its last heartbeat (null before any). */
export async function recorderState(db: Queryable): Promise<{ instance: string | null; heartbeatAt: Date | null; prunedThrough: number }> {
  const { rows } = await db.query('/* recorderState */ SELECT instance, heartbeat_at, pruned_through FROM hydra_notify_gateway.recorder');
  const row = rows[0] ?? {};
  return { instance: row.instance ?? null, heartbeatAt: row.heartbeat_at ?? null, prunedThrough: Number(row.pruned_through ?? 0) };
}

/** Records that `instance` has journaled everything it heard before `at`. */
export async function heartbeat(db: Queryable, instance: string, at: Date): Promise<void> {
  await db.query('/* recorderHeartbeat */ UPDATE hydra_notify_gateway.recorder SET instance = $1, heartbeat_at = $2', [instance, at]);
}
