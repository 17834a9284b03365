/**
 * The pipeline: from raw notifications to published events.
 *
 * Contract:
 * - `accept(channel, payload, receivedAt)` is called by the listener in
 *   delivery order. The payload is parsed by its channel's rule; a malformed
 *   one is logged with its channel and payload, counted, and dropped.
 * - `build_finished` chunks (Hydra splits long payloads into several
 *   notifications back to back, each with the same first id) are merged into
 *   one event with the union of their dependents, none repeated. Nothing
 *   marks the last chunk, so the merged event is published when any other
 *   notification arrives or after `chunkWindowMs` of quiet; publication order
 *   is always delivery order.
 * - `recover(pending)` publishes RECOVERED `build_finished` events for pending
 *   occurrences read from Hydra's table after the LISTEN connection was
 *   re-established, skipping those a live notification already announced.
 * - Counters (`stats`) feed `/metrics`.
 */
import type { Queryable } from '../db/queryable.js';
import { type Channel, isChannel } from '../hydra/channels.js';
import { type Notice, PayloadError, parsePayload } from '../hydra/payloads.js';
import type { Log } from '../log.js';
import { createEvent, type GatewayEvent } from './event.js';
import type { EventHub } from './hub.js';

type BuildFinished = Extract<Notice, { channel: 'build_finished' }>;

interface OpenChunks {
  notice: BuildFinished;
  dependents: Set<number>;
  payloads: string[];
  receivedAt: Date;
  timer: NodeJS.Timeout | null;
}

/** Counters of what the pipeline saw, by channel. */
export interface PipelineStats {
  received: Map<string, number>;
  malformed: Map<string, number>;
  published: Map<string, number>;
  recovered: number;
}

/** A pending occurrence read from `builds`. */
export interface PendingOccurrence {
  buildId: number;
  pendingSince: number;
}

/** How many live build_finished build ids are remembered to skip recovery duplicates. */
const REMEMBERED = 100_000;

/** Parses, merges and publishes notifications; see the module contract. */
export class Pipeline {
  readonly stats: PipelineStats = { received: new Map(), malformed: new Map(), published: new Map(), recovered: 0 };
  private open: OpenChunks | null = null;
  /** build id → when (Unix seconds) its latest live build_finished arrived. */
  private readonly announced = new Map<number, number>();

  constructor(
    private readonly options: { db: Queryable; hub: EventHub; log: Log; chunkWindowMs: number },
  ) {}

  /** Takes one notification from the listener. */
  accept(channel: string, payload: string, receivedAt: Date): void {
    bump(this.stats.received, channel);
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
      this.takeChunk(notice, payload, receivedAt);
      return;
    }
    this.flush();
    this.publish(notice, payload, receivedAt);
  }

  /** Publishes pending occurrences no live notification announced; returns how many. */
  recover(pending: readonly PendingOccurrence[]): number {
    this.flush();
    let count = 0;
    for (const { buildId, pendingSince } of pending) {
      const seenAt = this.announced.get(buildId);
      if (seenAt !== undefined && seenAt >= pendingSince) continue;
      const notice: BuildFinished = { channel: 'build_finished', buildId, dependentIds: [], selfListed: false };
      this.emit(createEvent(this.options.db, { notice, payload: String(buildId), receivedAt: new Date(), source: 'RECOVERED', pendingSince }));
      this.remember(buildId, pendingSince);
      count++;
    }
    this.stats.recovered += count;
    return count;
  }

  /** Publishes any open `build_finished` chunks now. */
  flush(): void {
    const open = this.open;
    if (!open) return;
    this.open = null;
    if (open.timer) clearTimeout(open.timer);
    const notice: BuildFinished = { ...open.notice, dependentIds: [...open.dependents] };
    this.publish(notice, open.payloads.join('\n'), open.receivedAt, open.payloads.length);
  }

  private takeChunk(notice: BuildFinished, payload: string, receivedAt: Date): void {
    const open = this.open;
    if (open && open.notice.buildId === notice.buildId) {
      for (const id of notice.dependentIds) open.dependents.add(id);
      open.notice = { ...open.notice, selfListed: open.notice.selfListed || notice.selfListed };
      open.payloads.push(payload);
    } else {
      this.flush();
      this.open = { notice, dependents: new Set(notice.dependentIds), payloads: [payload], receivedAt, timer: null };
    }
    if (this.options.chunkWindowMs === 0) return this.flush();
    const current = this.open!;
    if (current.timer) clearTimeout(current.timer);
    current.timer = setTimeout(() => this.flush(), this.options.chunkWindowMs);
  }

  private publish(notice: Notice, payload: string, receivedAt: Date, chunks = 1): void {
    if (notice.channel === 'build_finished') this.remember(notice.buildId, Math.floor(receivedAt.getTime() / 1000));
    this.emit(createEvent(this.options.db, { notice, payload, receivedAt, source: 'LIVE', chunks }));
  }

  private emit(event: GatewayEvent): void {
    bump(this.stats.published, event.channel);
    this.options.hub.publish(event);
  }

  private remember(buildId: number, at: number): void {
    this.announced.delete(buildId);
    this.announced.set(buildId, at);
    if (this.announced.size > REMEMBERED) this.announced.delete(this.announced.keys().next().value!);
  }

  private reject(channel: string, payload: string, reason: string): void {
    bump(this.stats.malformed, channel);
    this.options.log.warn('dropped malformed notification', { channel, payload: payload.slice(0, 500), reason });
  }

  /** Publishes what is open and stops the chunk timer (shutdown). */
  close(): void {
    this.flush();
  }
}

function bump(counter: Map<string, number>, key: Channel | string): void {
  counter.set(key, (counter.get(key) ?? 0) + 1);
}
