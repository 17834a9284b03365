/**
 * The pipeline: from journal rows to events.
 *
 * Contract:
 * - `accept(row)` takes journal rows in position order. A notification's
 *   payload is parsed by its channel's rule; a malformed one is logged with
 *   its channel and payload, counted, and dropped (it stays in the journal,
 *   as received). Gaps and recovered build_finished rows become events too.
 * - `build_finished` chunks (Hydra splits long payloads into several
 *   notifications back to back, each with the same first id) are merged into
 *   one event with the union of their dependents, none repeated, positioned
 *   at its last chunk. Only rows at consecutive positions merge: two
 *   finishes of one build with other rows between them stay two events, even
 *   when a replay reads only some channels. Nothing marks the last chunk, so the merged event is
 *   emitted when any other row arrives, on `flush()`, or after
 *   `chunkWindowMs` of quiet; emission order is always position order.
 *   While this instance still holds notifications it heard and has not seen
 *   journaled (`journaling`: a later chunk may be among them, its journal
 *   write slow under load), the quiet is waited again, for at most
 *   `CHUNK_HOLD_WINDOWS` windows in all.
 * - One pipeline feeds the hub (live); each replay of history makes its own.
 * - Each event gets a loader set of its own, made on first use, or the one
 *   `loaders(notice)` gives when it is emitted (history shares one per page;
 *   the live pipeline takes the set its build was loaded into while the
 *   notification was journaled, events/prefetch.ts).
 */
import type { Queryable } from '../db/queryable.js';
import type { Loaders } from '../hydra/loaders.js';
import { isChannel } from '../hydra/channels.js';
import { type Notice, PayloadError, parsePayload } from '../hydra/payloads.js';
import type { JournalRow } from '../journal/queries/journal.js';
import type { Log } from '../log.js';
import { createEvent, type GapNotice, type GatewayEvent } from './event.js';

type BuildFinished = Extract<Notice, { channel: 'build_finished' }>;

/** Chunk windows an open build_finished waits at most while this instance is still journaling (1 s at the default 50 ms). */
export const CHUNK_HOLD_WINDOWS = 20;

interface OpenChunks {
  notice: BuildFinished;
  dependents: Set<number>;
  payloads: string[];
  receivedAt: Date;
  /** The first chunk's position. */
  from: number;
  /** The last chunk's position. */
  position: number;
  pendingSince: number | null;
  timer: NodeJS.Timeout | null;
}

/** Counters of what the pipeline saw, by channel. */
export interface PipelineStats {
  malformed: Map<string, number>;
  published: Map<string, number>;
  recovered: number;
  gaps: number;
}

/** Parses and merges journal rows into events; see the module contract. */
export class Pipeline {
  readonly stats: PipelineStats = { malformed: new Map(), published: new Map(), recovered: 0, gaps: 0 };
  private open: OpenChunks | null = null;
  private accepted = 0;

  /**
   * The highest position P such that every event of rows up to P has been
   * emitted: the last row accepted, or just before an open chunk.
   */
  get settled(): number {
    return this.open ? this.open.from - 1 : this.accepted;
  }

  /** Where the open build_finished chunks start, if any. */
  get openFrom(): number | null {
    return this.open?.from ?? null;
  }

  /** Starts at journal position `position`: rows up to it were settled before this pipeline existed. */
  startAt(position: number): void {
    this.accepted = Math.max(this.accepted, position);
  }

  /** Drops the open chunks without emitting them (a replay leaves them to the live stream). */
  discardOpen(): void {
    if (this.open?.timer) clearTimeout(this.open.timer);
    this.open = null;
  }

  constructor(
    private readonly options: {
      db: Queryable;
      log: Log;
      chunkWindowMs: number;
      /** Whether notifications this instance heard are not journaled (or read back) yet. */
      journaling?: () => boolean;
      emit: (event: GatewayEvent) => void;
      /** The loader set of the event of `notice`, emitted now; by default (or undefined) each event makes its own. */
      loaders?: (notice: Notice | GapNotice) => Loaders | undefined;
    },
  ) {}

  /** Takes the next journal row. */
  accept(row: JournalRow): void {
    this.take(row);
    this.accepted = row.position;
  }

  private take(row: JournalRow): void {
    if (row.kind === 'gap') {
      this.flush();
      this.stats.gaps++;
      this.emit({
        position: row.position,
        notice: { channel: 'gap', from: row.gapFrom!, to: row.gapTo! },
        payload: '',
        receivedAt: row.receivedAt,
        source: 'LIVE',
      });
      return;
    }
    if (row.kind === 'recovered') {
      this.flush();
      this.stats.recovered++;
      const notice: BuildFinished = { channel: 'build_finished', buildId: Number(row.payload), dependentIds: [], selfListed: false };
      this.emit({
        position: row.position,
        notice,
        payload: row.payload,
        receivedAt: row.receivedAt,
        source: 'RECOVERED',
        pendingSince: row.pendingSince ?? undefined,
      });
      return;
    }
    const { channel, payload } = row;
    if (!isChannel(channel)) {
      this.reject(channel, payload, 'not a channel the gateway knows');
      return;
    }
    const notice = parsePayload(channel, payload);
    if (notice instanceof PayloadError) {
      this.reject(channel, payload, notice.reason);
      return;
    }
    if (notice.channel === 'build_finished') {
      this.takeChunk(notice, row);
      return;
    }
    this.flush();
    this.emit({ position: row.position, notice, payload, receivedAt: row.receivedAt, source: 'LIVE' });
  }

  /** Emits any open `build_finished` chunks now. */
  flush(): void {
    const open = this.open;
    if (!open) return;
    this.open = null;
    if (open.timer) clearTimeout(open.timer);
    const notice: BuildFinished = { ...open.notice, dependentIds: [...open.dependents] };
    this.emit({
      position: open.position,
      notice,
      payload: open.payloads.join('\n'),
      receivedAt: open.receivedAt,
      source: 'LIVE',
      chunks: open.payloads.length,
      pendingSince: open.pendingSince ?? undefined,
    });
  }

  /** Emits what is open and stops the chunk timer (shutdown, end of a replay). */
  close(): void {
    this.flush();
  }

  private takeChunk(notice: BuildFinished, row: JournalRow): void {
    const open = this.open;
    if (open && open.notice.buildId === notice.buildId && row.position === open.position + 1) {
      for (const id of notice.dependentIds) open.dependents.add(id);
      open.notice = { ...open.notice, selfListed: open.notice.selfListed || notice.selfListed };
      open.payloads.push(row.payload);
      open.position = row.position;
    } else {
      this.flush();
      this.open = {
        notice,
        dependents: new Set(notice.dependentIds),
        payloads: [row.payload],
        receivedAt: row.receivedAt,
        from: row.position,
        position: row.position,
        pendingSince: row.pendingSince,
        timer: null,
      };
    }
    if (this.options.chunkWindowMs === 0) return this.flush();
    // A replay flushes at the end of what it read, never on a timer.
    if (!Number.isFinite(this.options.chunkWindowMs)) return;
    const current = this.open!;
    if (current.timer) clearTimeout(current.timer);
    current.timer = setTimeout(() => this.quiet(current, 1), this.options.chunkWindowMs);
  }

  /** The chunk window passed without a row: emit, unless a later chunk may still be on its way (see the module contract). */
  private quiet(current: OpenChunks, windows: number): void {
    if (this.open !== current) return;
    if (windows < CHUNK_HOLD_WINDOWS && this.options.journaling?.()) {
      current.timer = setTimeout(() => this.quiet(current, windows + 1), this.options.chunkWindowMs);
      return;
    }
    this.flush();
  }

  /** Makes the event (with the page's loader set, when the pipeline is given one) and hands it on. */
  private emit(init: Parameters<typeof createEvent>[1]): void {
    const event = createEvent(this.options.db, init, this.options.loaders?.(init.notice));
    this.stats.published.set(event.channel, (this.stats.published.get(event.channel) ?? 0) + 1);
    this.options.emit(event);
  }

  private reject(channel: string, payload: string, reason: string): void {
    this.stats.malformed.set(channel, (this.stats.malformed.get(channel) ?? 0) + 1);
    this.options.log.warn('dropped malformed notification', { channel, payload: payload.slice(0, 500), reason });
  }
}
