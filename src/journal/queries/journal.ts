/**
 * Statements on the journal (`hydra_notify_gateway.journal`), one function
 * each. Writes are the recorder's alone and go through its LISTEN connection
 * (see `recorder.ts`); reads use the query pool.
 */
import type { Prepared, Queryable } from '../../db/queryable.js';
import { Params } from '../../db/sql.js';

/** A journal row as stored. */
export interface JournalRow {
  position: number;
  kind: 'notification' | 'recovered' | 'gap';
  channel: string;
  payload: string;
  receivedAt: Date;
  /** build_finished (live or recovered): the pendingSince of the finish it announces, read when journaled. */
  pendingSince: number | null;
  gapFrom: Date | null;
  gapTo: Date | null;
  mark: string | null;
  markOffset: number | null;
  recordedBy: string;
}

/** The columns `toJournalRow` reads. */
export const JOURNAL_COLUMNS = `position, kind, channel, payload, received_at, pending_since, gap_from, gap_to, mark, mark_offset, recorded_by`;

/** Parses a journal row. */
export function toJournalRow(r: Record<string, unknown>): JournalRow {
  return {
    position: Number(r.position),
    kind: r.kind as JournalRow['kind'],
    channel: String(r.channel),
    payload: String(r.payload),
    receivedAt: r.received_at as Date,
    pendingSince: r.pending_since === null ? null : Number(r.pending_since),
    gapFrom: (r.gap_from as Date | null) ?? null,
    gapTo: (r.gap_to as Date | null) ?? null,
    mark: (r.mark as string | null) ?? null,
    markOffset: r.mark_offset === null ? null : Number(r.mark_offset),
    recordedBy: String(r.recorded_by),
  };
}

/** One notification to journal. */
export interface NewNotification {
  channel: string;
  payload: string;
  receivedAt: Date;
  buildId: number | null;
  mark: string | null;
  offset: number | null;
}

/** What `appendNotifications` returns for each row, in position order. */
export interface Appended {
  position: number;
  /** build_finished: the finish it announces, read as it was journaled. */
  pendingSince: number | null;
}

/**
 * Appends notifications in order and advances the recorder's heartbeat to
 * `heartbeatAt`, in one statement: atomic on its own, or part of the
 * caller's transaction, and one round trip. It NOTIFYs nothing: a NOTIFY in
 * the write's transaction would hold Postgres's cluster-wide notify lock
 * through its commit's WAL flush (the recorder hints after the commit).
 * Returns each row's position and pending_since, in position order (the order
 * of `items`). One notification (what a quiet Hydra sends: one per
 * transaction) is a statement of scalars: the arrays' form costs Postgres
 * about 0.4 ms more a write, and every subscriber waits for this write.
 */
export async function appendNotifications(
  db: Queryable,
  instance: string,
  items: readonly NewNotification[],
  beat: { heartbeatAt: Date },
): Promise<Appended[]> {
  if (items.length === 1) {
    const [item] = items as [NewNotification];
    const { rows } = await db.query(APPEND_NOTIFICATION, [
      item.channel,
      item.payload,
      item.receivedAt,
      item.buildId,
      item.mark,
      item.offset,
      instance,
      beat.heartbeatAt,
    ]);
    return rows.map(appendedOf);
  }
  const { rows } = await db.query(APPEND_NOTIFICATIONS, [
    items.map((i) => i.channel),
    items.map((i) => i.payload),
    items.map((i) => i.receivedAt),
    items.map((i) => i.buildId),
    items.map((i) => i.mark),
    items.map((i) => i.offset),
    instance,
    beat.heartbeatAt,
  ]);
  return rows.map(appendedOf);
}

function appendedOf(r: { position: string; pending_since: number | null }): Appended {
  return { position: Number(r.position), pendingSince: r.pending_since === null ? null : Number(r.pending_since) };
}

/** Prepared: `appendNotifications` of one notification, the same statement with scalars. */
const APPEND_NOTIFICATION: Prepared = {
  name: 'appendNotification',
  text: `/* appendNotification */
     WITH appended AS (
       INSERT INTO hydra_notify_gateway.journal (kind, channel, payload, received_at, build_id, pending_since, mark, mark_offset, recorded_by)
       VALUES ('notification', $1::text, $2::text, $3::timestamptz, $4::int,
         -- The finish this build_finished announces, kept: the build may finish again later.
         CASE WHEN $1::text = 'build_finished' THEN (
           SELECT coalesce(b.notificationpendingsince, b.stoptime) FROM builds b WHERE b.id = $4::int AND b.finished = 1)
         END,
         $5::text, $6::int, $7::text)
       RETURNING position, pending_since
     ), beat AS (
       -- The recorder's heartbeat (queries/recorder.ts), in the same statement.
       UPDATE hydra_notify_gateway.recorder SET instance = $7::text, heartbeat_at = $8::timestamptz
     )
     SELECT a.position, a.pending_since FROM appended a`,
};

/** Prepared: it runs for every journal write. */
const APPEND_NOTIFICATIONS: Prepared = {
  name: 'appendNotifications',
  text: `/* appendNotifications */
     WITH appended AS (
       INSERT INTO hydra_notify_gateway.journal (kind, channel, payload, received_at, build_id, pending_since, mark, mark_offset, recorded_by)
       SELECT 'notification', t.channel, t.payload, t.received_at, t.build_id,
         -- The finish this build_finished announces, kept: the build may finish again later.
         CASE WHEN t.channel = 'build_finished' THEN (
           SELECT coalesce(b.notificationpendingsince, b.stoptime) FROM builds b WHERE b.id = t.build_id AND b.finished = 1)
         END,
         t.mark, t.mark_offset, $7
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[], $5::text[], $6::int[])
            WITH ORDINALITY AS t(channel, payload, received_at, build_id, mark, mark_offset, ord)
       ORDER BY t.ord
       RETURNING position, pending_since
     ), beat AS (
       -- The recorder's heartbeat (queries/recorder.ts), in the same statement.
       UPDATE hydra_notify_gateway.recorder SET instance = $7, heartbeat_at = $8
     )
     SELECT a.position, a.pending_since FROM appended a ORDER BY a.position`,
};

/** Appends a gap: a window in which no instance listened. */
export async function appendGap(db: Queryable, instance: string, from: Date, to: Date): Promise<number> {
  const { rows } = await db.query(
    `/* appendGap */
     INSERT INTO hydra_notify_gateway.journal (kind, channel, payload, received_at, gap_from, gap_to, recorded_by)
     VALUES ('gap', 'gap', '', clock_timestamp(), $1, $2, $3) RETURNING position`,
    [from, to, instance],
  );
  return Number(rows[0].position);
}

/**
 * Appends a `recovered` build_finished for each build that finished since
 * `since` (Unix seconds) and is still pending in Hydra's table, unless the
 * journal already holds a build_finished of it received after that finish.
 */
export async function appendRecovered(db: Queryable, instance: string, since: number): Promise<number> {
  const { rowCount } = await db.query(
    `/* appendRecovered */
     INSERT INTO hydra_notify_gateway.journal (kind, channel, payload, received_at, build_id, pending_since, recorded_by)
     SELECT 'recovered', 'build_finished', b.id::text, clock_timestamp(), b.id, b.notificationpendingsince, $2
     FROM builds b
     WHERE b.notificationpendingsince IS NOT NULL AND b.notificationpendingsince >= $1
       AND NOT EXISTS (
         SELECT 1 FROM hydra_notify_gateway.journal j
         WHERE j.channel = 'build_finished' AND j.build_id = b.id
           AND j.received_at >= to_timestamp(b.notificationpendingsince))
     ORDER BY b.notificationpendingsince, b.id`,
    [since, instance],
  );
  return rowCount ?? 0;
}

/** The last `limit` notification rows, oldest first. */
export async function journalTail(db: Queryable, limit: number): Promise<JournalRow[]> {
  const { rows } = await db.query(
    `/* journalTail */ SELECT ${JOURNAL_COLUMNS} FROM hydra_notify_gateway.journal
     WHERE kind = 'notification' ORDER BY position DESC LIMIT $1`,
    [limit],
  );
  return rows.map(toJournalRow).reverse();
}

/** Which rows `journalAfter` reads. */
export interface JournalRange {
  /** Rows strictly after this position. */
  after: number;
  limit: number;
  /** Up to and including this position. */
  through?: number | null;
  /** Only these channels (gaps always come along). */
  channels?: readonly string[] | null;
  /** Only rows received at or after this instant. */
  since?: Date | null;
  /** Only rows received before this instant. */
  until?: Date | null;
}

/** Rows of `range`, oldest first. */
export async function journalAfter(db: Queryable, range: JournalRange): Promise<JournalRow[]> {
  const p = new Params();
  const conditions = [`position > ${p.add(range.after, 'bigint')}`];
  if (range.through != null) conditions.push(`position <= ${p.add(range.through, 'bigint')}`);
  if (range.channels) conditions.push(`(channel = ANY(${p.add(range.channels, 'text[]')}) OR kind = 'gap')`);
  if (range.since) conditions.push(`received_at >= ${p.add(range.since, 'timestamptz')}`);
  if (range.until) conditions.push(`received_at < ${p.add(range.until, 'timestamptz')}`);
  const { rows } = await db.query(
    `/* journalAfter */ SELECT ${JOURNAL_COLUMNS} FROM hydra_notify_gateway.journal
     WHERE ${conditions.join(' AND ')}
     ORDER BY position LIMIT ${p.add(range.limit, 'int')}`,
    p.values,
  );
  return rows.map(toJournalRow);
}

/** The highest position, 0 when empty. */
export async function lastPosition(db: Queryable): Promise<number> {
  const { rows } = await db.query(`/* lastPosition */ SELECT coalesce(max(position), 0) AS position FROM hydra_notify_gateway.journal`);
  return Number(rows[0].position);
}
