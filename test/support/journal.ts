/**
 * The journal as tests read it back: every row after a position, in position
 * order, straight from the gateway's table (what a subscriber or a count is
 * checked against). Read-only.
 */
import type pg from 'pg';
import type { JournalRow as Journaled } from '../../src/journal/queries/journal.js';

/** A journal row as tests compare it. */
export interface JournalRow {
  position: number;
  kind: string;
  channel: string;
  payload: string;
  gapFrom: Date | null;
  gapTo: Date | null;
  receivedAt: Date;
  recordedBy: string;
}

/** The journal after `after` (the whole journal by default), in position order. */
export async function readJournal(pool: pg.Pool, after = 0): Promise<JournalRow[]> {
  const { rows } = await pool.query(
    `SELECT position, kind, channel, payload, gap_from, gap_to, received_at, recorded_by FROM hydra_notify_gateway.journal
     WHERE position > $1 ORDER BY position`,
    [after],
  );
  return rows.map((r) => ({
    position: Number(r.position),
    kind: r.kind,
    channel: r.channel,
    payload: r.payload,
    gapFrom: r.gap_from,
    gapTo: r.gap_to,
    receivedAt: r.received_at,
    recordedBy: r.recorded_by,
  }));
}

/** A journaled notification as the recorder hands it over (src/journal/queries/journal.ts's row), for tests that feed a reader or a pipeline. */
export function notificationRow(position: number, channel: string, payload: string): Journaled {
  return {
    position,
    kind: 'notification',
    channel,
    payload,
    receivedAt: new Date(),
    pendingSince: null,
    gapFrom: null,
    gapTo: null,
    mark: null,
    markOffset: null,
    recordedBy: 'test',
  };
}
