/**
 * History: the journaled events after a position, read page by page through
 * a pipeline of its own, so split build_finished chunks merge exactly as they
 * do live. One reader serves both the `events` query (`historyPage`) and
 * resumption (replay.ts).
 *
 * Contract: `History.next()` reads the next page of rows in position order
 * and returns the events it completed; a split build_finished still open at
 * the end of a page stays open until the next page, `finish()` or
 * `discardOpen()`. The events of one page share one loader set, so their
 * rows load in one batch per table (and the events of one `events` page
 * filter in one batch). Filters are the caller's: a page of the `events` query
 * always includes gaps, a subscription folds them into `precededByGap`.
 * `assertNotExpired` is checked before a cursor is used: events pruned by
 * retention are CURSOR_EXPIRED, never a silent jump to "now".
 */
import type { Queryable } from '../db/queryable.js';
import { errors } from '../errors.js';
import type { Channel } from '../hydra/channels.js';
import { createLoaders, type Loaders } from '../hydra/loaders.js';
import { journalAfter, type JournalRange, lastPosition } from '../journal/queries/journal.js';
import { recorderState } from '../journal/queries/recorder.js';
import { silentLog } from '../log.js';
import { type GatewayEvent, isGap } from './event.js';
import { checkFilter, type EventFilter, isEmptyFilter, matches } from './filter.js';
import { Pipeline } from './pipeline.js';

/** Rows read per page. */
const PAGE = 500;
/** Journal rows scanned at most for one page of a filtered `events` query. */
const SCAN_LIMIT = 20_000;

/**
 * Checks that the events after `after` are still journaled (CURSOR_EXPIRED
 * otherwise) and that `after` is a position the journal has reached
 * (BAD_USER_INPUT otherwise: such a cursor would hide events yet to come).
 */
export async function assertNotExpired(db: Queryable, after: number): Promise<void> {
  const { prunedThrough } = await recorderState(db);
  if (after < prunedThrough) throw errors.cursorExpired(after, prunedThrough);
  if (after > (await lastPosition(db))) throw errors.badInput('this cursor is ahead of the journal: it was not issued by this gateway');
}

/** The journal after a position, as events, page by page; see the module contract. */
export class History {
  private readonly ready: GatewayEvent[] = [];
  private readonly pipeline: Pipeline;
  /** The loader set of the events of the page read last. */
  private loaders: Loaders | null = null;
  /** The position read up to. */
  position: number;
  /** Rows read so far. */
  scanned = 0;

  constructor(
    private readonly db: Queryable,
    private readonly range: Omit<JournalRange, 'limit' | 'through'>,
    /** Rows read per page. */
    private readonly pageRows = PAGE,
  ) {
    this.position = range.after;
    this.pipeline = new Pipeline({
      db,
      log: silentLog,
      chunkWindowMs: Infinity,
      emit: (event) => this.ready.push(event),
      loaders: () => (this.loaders ??= createLoaders(db)),
    });
  }

  /**
   * Reads the next page, up to position `through` when given; returns the
   * events completed and whether the page was full (more rows may follow).
   */
  async next(through?: number): Promise<{ events: GatewayEvent[]; full: boolean }> {
    const rows = await journalAfter(this.db, { ...this.range, after: this.position, limit: this.pageRows, through });
    this.loaders = null;
    for (const row of rows) this.pipeline.accept(row);
    this.scanned += rows.length;
    const full = rows.length === this.pageRows;
    const last = rows.at(-1)?.position ?? this.position;
    this.position = full ? last : Math.max(last, through ?? last);
    return { events: this.ready.splice(0), full };
  }

  /** Emits the open build_finished chunks: the end of what is read. */
  finish(): GatewayEvent[] {
    this.pipeline.flush();
    return this.ready.splice(0);
  }

  /** Where the open build_finished chunks start, if any. */
  get openFrom(): number | null {
    return this.pipeline.openFrom;
  }

  /** Drops the open chunks (a replay leaves them to the live stream). */
  discardOpen(): void {
    this.pipeline.discardOpen();
  }
}

/** What a page of the `events` query asks for. */
export interface HistoryQuery {
  /** After this position; null: from the start of the journal. */
  after: number | null;
  limit: number;
  channels: readonly Channel[] | null;
  since: Date | null;
  until: Date | null;
  filter: EventFilter | null;
}

/** A page of history. */
export interface HistoryPage {
  events: GatewayEvent[];
  hasNextPage: boolean;
  /** Where the next page starts; null when the page is empty and nothing follows. */
  endPosition: number | null;
}

/** One page of the journal, oldest first, filtered, gaps always included. */
export async function historyPage(db: Queryable, query: HistoryQuery): Promise<HistoryPage> {
  checkFilter(query.filter);
  if (query.after !== null) await assertNotExpired(db, query.after);
  if (query.since && query.until && query.since > query.until) throw errors.badInput('since must not be after until');
  // Unfiltered, a row is an event (but merged chunks and malformed rows): reading one row
  // beyond the page mostly ends it in one read.
  const pageRows = isEmptyFilter(query.filter) ? Math.min(PAGE, query.limit + 1) : PAGE;
  const history = new History(db, { after: query.after ?? 0, channels: query.channels, since: query.since, until: query.until }, pageRows);
  const out: GatewayEvent[] = [];
  let exhausted = false;
  // Read until the page is full (filters drop events), one event beyond it, or the end.
  while (out.length <= query.limit && history.scanned < SCAN_LIMIT) {
    const page = await history.next();
    const events = page.full ? page.events : [...page.events, ...history.finish()];
    out.push(...(await wanted(events, query.filter)));
    if (!page.full) {
      exhausted = true;
      break;
    }
  }
  // A split build_finished still open where reading stopped is left for the next page, whole.
  const events = out.slice(0, query.limit);
  const hasNextPage = out.length > query.limit || (!exhausted && history.scanned >= SCAN_LIMIT);
  const last = events.at(-1);
  return { events, hasNextPage, endPosition: last ? last.position : hasNextPage ? history.position : null };
}

/**
 * The events a filter keeps (gaps always), in order; filtered together, so the
 * rows they need load in one batch.
 */
export async function wanted(events: readonly GatewayEvent[], filter: EventFilter | null | undefined): Promise<GatewayEvent[]> {
  const kept = await Promise.all(events.map((event) => isGap(event) || matches(event, filter)));
  return events.filter((_, i) => kept[i]);
}
