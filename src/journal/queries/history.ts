/**
 * A page of journal history for the `events` query: rows after a position,
 * optionally only some channels and a time window; gaps always included.
 */
import type { Queryable } from '../../db/queryable.js';
import { JOURNAL_COLUMNS, type JournalRow, journalAfter, toJournalRow } from './journal.js';

/** Rows after `after` in position order, filtered by channel and receipt time. */
export async function journalPage(
  db: Queryable,
  options: { after: number; limit: number; channels: readonly string[] | null; since: Date | null; until: Date | null },
): Promise<JournalRow[]> {
  if (!options.since && !options.until) return journalAfter(db, { after: options.after, limit: options.limit, channels: options.channels });
  const { rows } = await db.query(
    `/* journalPage */ SELECT ${JOURNAL_COLUMNS} FROM hydra_notify_gateway.journal
     WHERE position > $1 AND ($3::text[] IS NULL OR channel = ANY($3) OR kind = 'gap')
       AND ($4::timestamptz IS NULL OR received_at >= $4) AND ($5::timestamptz IS NULL OR received_at < $5)
     ORDER BY position LIMIT $2`,
    [options.after, options.limit, options.channels, options.since, options.until],
  );
  return rows.map(toJournalRow);
}
