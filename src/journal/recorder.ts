/**
 * The recorder: the one instance that writes the journal.
 *
 * Contract:
 * - Every instance hears every notification on its LISTEN connection and
 *   keeps what the journal may not hold yet in its `Backlog`. Exactly one
 *   instance records: the one whose recorder's connection (connection.ts)
 *   holds the recorder's advisory lock; positions are assigned by that one
 *   writer, in delivery order. The lock is the fence: when the LISTEN
 *   connection is lost, the recorder's connection is closed with it, so an
 *   instance that does not listen neither holds the lock nor writes; when
 *   the recorder's connection is lost, the instance stops recording and
 *   tries the lock again, keeping what it heard.
 * - Back-pressure: past `maxBacklog` notifications waiting, the LISTEN socket
 *   is paused (they wait in Postgres's queue), and read again at half of it,
 *   or when the journal is ahead of what this instance heard. Memory stays
 *   bounded whatever the burst.
 * - The others try the lock every `lockRetryMs`; when the recorder dies its
 *   session ends, the lock frees, and one of them takes over within about a
 *   second. An instance whose own connection was just re-established waits
 *   `reconnectGraceMs` first, so that an instance that kept listening (and
 *   holds what was sent meanwhile) wins.
 * - Taking over: the journal's last row names its place in the stream (mark
 *   and offset, see backlog.ts); the new recorder drops what it heard up to
 *   there and journals the rest. If it did not hear that row and the last
 *   recorder's heartbeat precedes this instance's LISTEN, nobody may have
 *   listened in between: a `gap` row (from the heartbeat to the LISTEN) is
 *   journaled, then every build_finished still pending in Hydra's table that
 *   finished since, as `recovered` rows.
 * - That gap is conservative, and may cover nothing: a takeover writes it
 *   whenever it cannot place its own stream against the journal by key, which
 *   happens when (a) the journal holds no row at all (the last recorder was
 *   cut before its first commit), or (b) the last row is keyed by a mark sent
 *   before this LISTEN, so what this connection heard before its own first
 *   mark can be matched by content only (`alignUnkeyed`), and content is no
 *   identity (Hydra repeats payloads): the match drops what it finds, and the
 *   gap still says the window is unproven. Either way the gap's warning logs
 *   `lastRow` (null in a, a mark this connection never passed in b) and `held`.
 *   A paused recorder's heartbeat stays behind (see below), so a takeover
 *   mid-burst meets both cases more often than a fresh heartbeat would let it.
 *   The first mark commits with the LISTEN (`firstMark`), so the unkeyed
 *   entries are only the notifications of transactions that committed at the
 *   same moment as the LISTEN (a Hydra evaluation's thousands, at worst).
 *   The takeover reads as much of the journal's tail as there are unkeyed
 *   entries (at least `TAIL` rows), so a last recorder that journaled all of
 *   them and was cut before any row keyed by a mark this connection heard is
 *   matched still. When the first mark was a statement of its own, all the
 *   recorder journaled during its round trip went unkeyed too, and more of it
 *   than the fixed tail of 200 rows was journaled a second time (seen with
 *   that mark delayed by hand).
 * - The heartbeat (`recorder.heartbeat_at`, the database's clock) means
 *   "everything committed before this instant is journaled"; it is written in
 *   the same transaction as the rows, and at least every `heartbeatMs`. It
 *   never passes what the LISTEN connection proved it heard (its `syncedAt`,
 *   and for a notification still waiting, the `syncedAt` it was heard
 *   under), so a paused or silently dead connection holds it back.
 * - A takeover first takes the lock, then reads the LISTEN connection on
 *   until it has heard the journal's last row (or a round trip shows that
 *   row is not coming on this connection), then aligns: a follower that
 *   paused behind the recorder catches up first, holding no more than it
 *   was behind.
 * - Marks: each instance NOTIFYs a mark in the transaction of its LISTEN
 *   (`firstMark`), and the recorder every `heartbeatMs` while notifications
 *   flow, so keys stay short-lived and comparable.
 * - The recorder hands the rows it committed to `onCommitted`, as a read
 *   would return them, so its own instance need not read them back: in
 *   order, on the turn after their commit (so that the next batch's write is
 *   on its way while they are published), and before the flush ends.
 * - After a journal write commits, the recorder NOTIFYs `hng_journal` with
 *   its last position, in a statement of its own: every instance's reader
 *   then reads the new rows. Not in the write's transaction: Postgres holds
 *   one cluster-wide lock from a notifying transaction's pre-commit to its
 *   end, WAL flush included, so every notifying commit of Hydra's would wait
 *   behind the journal's. When the backlog is empty the hint follows the
 *   hand-over to `onCommitted` by a turn of the event loop (this instance's
 *   subscribers first: their executions run and write in between); while
 *   writes follow each other (a burst), at most one hint per `hintEveryMs`,
 *   and one after the last write. A hint lost (the connection cut between
 *   the commit and it) is made up by the readers' poll.
 * - What else must hold every journaled notification is written in the same
 *   transaction through `hooks.appended` (consumers' pending sets), with each
 *   payload parsed by its channel's one rule (hydra/payloads.ts): a malformed
 *   payload is journaled as received and creates nothing anywhere. A batch
 *   holding nothing `hooks.wants` is one statement (rows and heartbeat:
 *   atomic without a transaction around it). After a gap, `hooks.gap` is told
 *   from when Hydra's tables must be re-read.
 * - Every statement runs in an exclusive turn of its connection (db/turns.ts):
 *   marks and syncs on the LISTEN connection; the lock, takeovers and journal
 *   writes on the recorder's.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Queryable } from '../db/queryable.js';
import { JOURNAL_CHANNEL, MARK_CHANNEL, notifyInternal } from '../db/channels.js';
import { transaction } from '../db/transaction.js';
import { isChannel } from '../hydra/channels.js';
import { type Notice, PayloadError, parsePayload } from '../hydra/payloads.js';
import type { Listener } from '../listener/listener.js';
import type { Log } from '../log.js';
import { Backlog, type Heard } from './backlog.js';
import type { RecorderConnection } from './connection.js';
import { type Appended, appendGap, appendNotifications, appendRecovered, type JournalRow, journalTail } from './queries/journal.js';
import { heartbeat, RECORDER_LOCK, recorderState, tryRecorderLock } from './queries/recorder.js';

/** A notification as journaled: its position and, when well-formed, what it says. */
export interface Journaled {
  position: number;
  notice: Notice | null;
}

/** What is written beside the journal, by whoever must hold every journaled event. */
export interface RecorderHooks {
  /** In the transaction that appends `rows` to the journal, on the recorder's connection. */
  appended?(tx: Queryable, rows: readonly Journaled[]): Promise<void>;
  /**
   * Whether `appended` must see a batch holding this notice (null: malformed); a batch with
   * none is journaled without calling it. Without `wants`, every batch goes to `appended`.
   */
  wants?(notice: Notice | null): boolean;
  /** After a gap was journaled: what Hydra's tables hold since `sinceUnix` may have gone unheard. */
  gap?(sinceUnix: number): Promise<void>;
}

/** Settings of the recorder. */
export interface RecorderOptions {
  listener: Pick<Listener, 'exclusive' | 'clockOffsetMs' | 'syncedAt' | 'sync' | 'pause' | 'resume'>;
  /** The connection that holds the lock and writes (connection.ts). */
  connection: Pick<RecorderConnection, 'exclusive' | 'close' | 'pid'>;
  /** This instance's name in the journal (`recorded_by`). */
  instance: string;
  log: Log;
  hooks?: RecorderHooks;
  /** @default 1_000 */
  lockRetryMs?: number;
  /** @default 3_000 */
  reconnectGraceMs?: number;
  /** @default 2_000 */
  heartbeatMs?: number;
  /** Rows per journal transaction. @default 1_000 */
  batchSize?: number;
  /** While journal writes follow each other (a burst), at most one `hng_journal` hint per this many ms. @default 50 */
  hintEveryMs?: number;
  /** Notifications waiting before the LISTEN socket is paused. @default 10_000 */
  maxBacklog?: number;
  /** The rows of each journal write once committed, in position order, as the journal holds them. */
  onCommitted?: (rows: readonly JournalRow[]) => void;
}

/** The `hng_journal` payload of a takeover's write (the others carry their last position). */
export const TAKEOVER_HINT = 'takeover';

/** How far back the journal's tail is read to align unkeyed notifications. */
const TAIL = 200;
/** Slack before the gap's start for recovering pending build_finished (clock skew between machines). */
const RECOVERY_SLACK_S = 5;

/** Writes the journal while holding the recorder lock; see the module contract. */
export class Recorder {
  readonly backlog = new Backlog();
  private leader = false;
  /** The LISTEN connection's generation: a batch taken under another is not put back. */
  private epoch = 0;
  /** Leadership's generation: bumped whenever a lock this instance held or tried may be gone. */
  private term = 0;
  /** A takeover reads the LISTEN connection up to this journaled key: no pause meanwhile. */
  private catchingUp: { mark: string; offset: number; heard: () => void } | null = null;
  /** Whether the LISTEN connection is up (between `listening` and `lost`). */
  private listens = false;
  private beating = false;
  private listeningSince = new Date();
  private listenSentAt = new Date();
  private lockTimer: NodeJS.Timeout | null = null;
  private beatTimer: NodeJS.Timeout | null = null;
  private flushing = false;
  /** When the last `hng_journal` hint was sent (ms since the epoch). */
  private hintedAt = 0;
  private flushDone: Promise<void> = Promise.resolve();
  private again = false;
  private flushSoon = false;
  private marks = 0;
  private heardSinceMark = false;
  private stopped = false;
  /** Times this instance became the recorder. */
  takeovers = 0;

  constructor(private readonly options: RecorderOptions) {}

  /** The backend pid of the recorder's connection, while it is open. */
  get connectionPid(): number | null {
    return this.options.connection.pid;
  }

  /** Whether this instance records now. */
  get recording(): boolean {
    return this.leader;
  }

  /** Whether notifications this instance heard are still owed: not journaled yet (recording), or not yet read back from the journal (following). */
  get journaling(): boolean {
    return this.backlog.size > 0 || this.flushing;
  }

  /** Every notification heard, in delivery order (Hydra's and marks). */
  hear(channel: string, payload: string, receivedAt: Date): void {
    if (channel === MARK_CHANNEL) this.backlog.passMark(payload);
    else this.backlog.hear(channel, payload, receivedAt, this.options.listener.syncedAt);
    const target = this.catchingUp;
    if (target && this.backlog.passedKey(target.mark, target.offset)) target.heard();
    if (channel === MARK_CHANNEL) return;
    this.heardSinceMark = true;
    if (this.backlog.size >= this.maxBacklog && !this.catchingUp) this.options.listener.pause();
    // Flushed once the current read is handed over: everything Postgres delivered
    // together (one transaction's notifications, a split build_finished) goes into
    // one journal transaction rather than one each.
    if (this.leader && !this.flushSoon) {
      this.flushSoon = true;
      setImmediate(() => {
        this.flushSoon = false;
        void this.flush();
      });
    }
  }

  /** A LISTEN connection is up (first or again): start over as a candidate. */
  listening(info: { reconnected: boolean; listeningSince: Date; listenSentAt: Date }): void {
    this.resign();
    this.backlog.reset();
    this.listeningSince = info.listeningSince;
    this.listenSentAt = info.listenSentAt;
    ++this.epoch;
    this.listens = true;
    // Its first mark was sent with the LISTEN (`firstMark`).
    this.heardSinceMark = false;
    this.candidate(info.reconnected ? (this.options.reconnectGraceMs ?? 3_000) : 0);
  }

  /** The LISTEN connection was lost: the recorder's connection, and the lock, go with it. */
  lost(): void {
    this.epoch++;
    this.listens = false;
    this.resign();
    void this.options.connection.close();
  }

  /** The recorder's connection was lost (the lock with it): stop recording and try again, keeping what was heard. */
  connectionLost(): void {
    if (this.stopped || !this.listens) return;
    this.resign();
    this.candidate(this.options.lockRetryMs ?? 1_000);
  }

  /** A journal row was read (by this instance's reader): what it covers is no longer owed. */
  journaled(row: { mark: string | null; markOffset: number | null }): void {
    if (this.leader) return;
    this.backlog.dropThrough(row.mark, row.markOffset);
    this.relieve();
  }

  /** Tries the lock after `delayMs`, and again every `lockRetryMs`, until it leads or the term ends. */
  private candidate(delayMs: number): void {
    if (this.lockTimer) clearTimeout(this.lockTimer);
    const term = this.term;
    const attempt = () => {
      this.lockTimer = null;
      if (this.stopped || term !== this.term) return;
      void this.tryLead(term).then((led) => {
        if (!led && !this.stopped && term === this.term) this.lockTimer = setTimeout(attempt, this.options.lockRetryMs ?? 1_000);
      });
    };
    this.lockTimer = setTimeout(attempt, delayMs);
  }

  private get maxBacklog(): number {
    return this.options.maxBacklog ?? 10_000;
  }

  /**
   * Reads the LISTEN socket again once the backlog is down to half, or the
   * journal is ahead of it (what it holds is then journaled, and is dropped
   * when the owed key is heard). An owed key may never come (its mark was
   * sent before this connection listened), so the journal being ahead reads
   * on only up to four times the limit: past that the socket stays paused,
   * and a pause that lasts drops the connection (listener.ts).
   */
  private relieve(): void {
    const { size } = this.backlog;
    if (size <= this.maxBacklog / 2 || (this.backlog.owes && size < 4 * this.maxBacklog)) this.options.listener.resume();
  }

  /**
   * Shutdown: journals what was heard (with a heartbeat, so the next recorder
   * knows how far this one got), then stops recording and trying. The lock
   * goes with the connection, which the caller closes next.
   */
  async stop(): Promise<void> {
    if (this.leader) {
      while (this.flushing) await this.flushDone;
      this.again = true;
      await this.flush();
    }
    this.stopped = true;
    this.epoch++;
    this.resign();
    await this.options.connection.close();
  }

  private resign(): void {
    this.term++;
    if (this.lockTimer) clearTimeout(this.lockTimer);
    if (this.beatTimer) clearInterval(this.beatTimer);
    this.lockTimer = this.beatTimer = null;
    if (this.leader) this.options.log.info('recorder resigned', { instance: this.options.instance });
    this.leader = false;
  }

  /**
   * The mark a new LISTEN connection sends in its own transaction (the
   * listener's `announce`): what it hears after it is keyed, so a takeover
   * matches by content only the notifications of transactions that committed
   * at the same moment, never what the recorder journaled while a later mark
   * was on its way.
   */
  firstMark(): { channel: typeof MARK_CHANNEL; payload: string } {
    return { channel: MARK_CHANNEL, payload: this.nextMark() };
  }

  private nextMark(): string {
    return `${this.options.instance}:${++this.marks}`;
  }

  private async mark(): Promise<void> {
    this.heardSinceMark = false;
    const mark = this.nextMark();
    await this.options.listener.exclusive((db) => notifyInternal(db, MARK_CHANNEL, mark));
  }

  private async tryLead(term: number): Promise<boolean> {
    const { listener, connection } = this.options;
    const epoch = this.epoch;
    let gapSince: number | null = null;
    let locked = false;
    try {
      await connection.exclusive(async (db) => {
        if (!(await tryRecorderLock(db))) return;
        locked = true;
        if (term !== this.term) throw new Error('connection changed during takeover');
        // Read once, under the lock: nobody else appends while it is held.
        // As deep as the entries heard before this connection's first mark, which only content can place.
        const tail = await journalTail(db, Math.max(TAIL, this.backlog.unkeyed));
        await this.catchUp(tail.at(-1));
        gapSince = await transaction(db, (tx) => this.takeOver(tx, epoch, tail));
        if (term !== this.term) throw new Error('connection changed during takeover');
      });
      if (!locked) return false;
      // Consumers learn of the gap's finishes before this instance starts recording new ones.
      if (gapSince !== null) await this.afterGap(gapSince);
      if (term !== this.term) return false;
      this.leader = true;
      this.takeovers++;
      this.beatTimer = setInterval(() => void this.beat(), this.options.heartbeatMs ?? 2_000);
      this.beatTimer.unref();
      this.options.log.info('recording the journal', { instance: this.options.instance });
      void this.flush();
      return true;
    } catch (error) {
      // The lock is the session's: a takeover that failed must not keep others from trying.
      if (locked) {
        await connection
          .exclusive((db) => db.query('/* recorderUnlock */ SELECT pg_advisory_unlock($1::bigint)', [RECORDER_LOCK]), false)
          .catch(() => {});
      }
      this.options.log.warn('could not take over recording', { error: (error as Error).message });
      return false;
    }
  }

  /**
   * Reads the LISTEN connection on until `last` (the journal's last row) is
   * heard, or a round trip shows it is not coming on this connection (it was
   * sent before this LISTEN, or the row is a gap's).
   */
  private async catchUp(last: { mark: string | null; markOffset: number | null } | undefined): Promise<void> {
    if (!last || last.mark === null || last.markOffset === null || this.backlog.passedKey(last.mark, last.markOffset)) return;
    const { listener } = this.options;
    let heard!: () => void;
    const reached = new Promise<void>((resolve) => (heard = resolve));
    this.catchingUp = { mark: last.mark, offset: last.markOffset, heard };
    try {
      listener.resume();
      // The round trip goes on in its turn; whatever it still reads is heard as usual.
      const synced = listener.sync();
      synced.catch(() => {});
      await Promise.race([reached, synced]);
    } finally {
      this.catchingUp = null;
    }
  }

  /**
   * The heartbeat: a round trip on the LISTEN connection (a mark when
   * notifications came since the last one), so `syncedAt` moves on, then a
   * journal write, with nothing new if need be.
   */
  private async beat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      await (this.heardSinceMark ? this.mark() : this.options.listener.sync());
    } catch {
      // The LISTEN connection is down: `lost` follows, and the heartbeat stays where it was.
    } finally {
      this.beating = false;
    }
    this.again = true;
    void this.flush();
  }

  private async afterGap(sinceUnix: number): Promise<void> {
    await this.options.hooks
      ?.gap?.(sinceUnix)
      .catch((error: Error) => this.options.log.warn('reconciling after the gap failed', { error: error.message }));
  }

  /**
   * Aligns the backlog with the journal (its `tail`, read under the lock),
   * writing a gap (and recoveries) when nobody listened. Returns, after a
   * gap, the Unix second from which Hydra's tables must be re-read.
   */
  private async takeOver(db: Queryable, epoch: number, tail: readonly JournalRow[]): Promise<number | null> {
    const { instance, log } = this.options;
    const state = await recorderState(db);
    const last = tail.at(-1);
    // Heard: held until now, or dropped already when this instance's reader read it.
    const heardLast = last
      ? this.backlog.dropThrough(last.mark, last.markOffset) || this.backlog.passedKey(last.mark, last.markOffset)
      : false;
    // After the round trip, a journaled key not heard is not coming on this connection.
    this.backlog.forgive();
    const lastSeen = state.heartbeatAt;
    // The last recorder's heartbeat ("journaled everything heard before") precedes this LISTEN.
    const gap = !heardLast && lastSeen !== null && lastSeen < this.listeningSince;
    if (!heardLast && last) {
      // What this connection heard before its first mark may be journaled already
      // (the last recorder may have listened a little past its heartbeat). Only rows it could have heard count: recorded by another instance,
      // after this LISTEN (less a second of clock measurement error).
      const audible = tail.filter((r) => r.recordedBy !== instance && r.receivedAt.getTime() >= this.listenSentAt.getTime() - 1_000);
      this.backlog.alignUnkeyed(audible);
    }
    if (epoch !== this.epoch) throw new Error('connection changed during takeover');
    let since: number | null = null;
    if (gap) {
      await appendGap(db, instance, lastSeen, this.listeningSince);
      since = Math.floor(lastSeen.getTime() / 1000) - RECOVERY_SLACK_S;
      const recovered = await appendRecovered(db, instance, since);
      log.warn('journal gap: no instance listened', {
        from: lastSeen.toISOString(),
        to: this.listeningSince.toISOString(),
        recoveredBuildFinished: recovered,
        // Why this instance could not align: the last row's key, and where its own stream stands.
        lastRow: last ? { position: last.position, mark: last.mark, markOffset: last.markOffset } : null,
        held: this.backlog.size,
      });
    }
    // Everything sent before this LISTEN is journaled (by the last recorder) or
    // accounted for by the gap; what was heard since waits in the backlog.
    await heartbeat(db, instance, lastSeen && lastSeen > this.listenSentAt ? lastSeen : this.listenSentAt);
    await notifyInternal(db, JOURNAL_CHANNEL, TAKEOVER_HINT);
    return since;
  }

  /**
   * Tells every instance's reader that the journal holds rows up to `position`, in a statement of
   * its own after their commit. Never throws: a hint that could not be sent (or that this instance,
   * no longer the recorder, does not send) is not sent again; the readers' poll reads those rows
   * within its `pollMs`.
   */
  private async hint(position: number): Promise<void> {
    this.hintedAt = Date.now();
    // Not on a connection opened again for it: one that was lost took the lock with it.
    if (!this.leader) return;
    try {
      await this.options.connection.exclusive((db) => notifyInternal(db, JOURNAL_CHANNEL, String(position)), false);
    } catch (error) {
      this.options.log.warn('journal hint failed', { error: (error as Error).message, position });
    }
  }

  /** Journals the backlog, in batches, one transaction each; single-flight. */
  private async flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return;
    }
    this.flushing = true;
    let done!: () => void;
    this.flushDone = new Promise((resolve) => (done = resolve));
    const { listener, connection, instance, hooks } = this.options;
    const batchSize = this.options.batchSize ?? 1_000;
    let published = Promise.resolve();
    /** The last position committed and not yet hinted. */
    let owed: number | null = null;
    try {
      while (this.leader && (this.backlog.size > 0 || this.again)) {
        this.again = false;
        const epoch = this.epoch;
        const before = Math.min(Date.now() + listener.clockOffsetMs, listener.syncedAt);
        // The chunks of one split build_finished go into one journal transaction.
        const items = this.backlog.take(batchSize, sameBuildFinished);
        // Everything committed before the first notification left waiting is journaled
        // with this batch (it was committed after its floor); everything the LISTEN
        // connection proved it heard, if none is left. Under sustained load the
        // heartbeat still advances, batch by batch.
        const waiting = this.backlog.peek();
        const journaledThrough = new Date(waiting ? Math.min(waiting.floor, before) : before);
        const notices = items.map(noticeOf);
        const rows = items.map((item, i) => toNew(item, notices[i]!));
        const hooked = items.length > 0 && hooks?.appended !== undefined && (hooks.wants ? notices.some(hooks.wants) : true);
        let appended: Appended[] = [];
        try {
          await connection.exclusive(async (db) => {
            if (items.length === 0) {
              await heartbeat(db, instance, journaledThrough);
              return;
            }
            const write = (tx: Queryable) => appendNotifications(tx, instance, rows, { heartbeatAt: journaledThrough });
            if (!hooked) {
              appended = await write(db);
              return;
            }
            await transaction(db, async (tx) => {
              appended = await write(tx);
              await hooks!.appended!(
                tx,
                appended.map(({ position }, i) => ({ position, notice: notices[i]! })),
              );
            });
          });
        } catch (error) {
          if (epoch === this.epoch) this.backlog.putBack(items);
          this.options.log.warn('journal write failed', { error: (error as Error).message, rows: items.length });
          break;
        }
        this.relieve();
        if (appended.length > 0 && this.options.onCommitted) {
          const onCommitted = this.options.onCommitted;
          const committed = appended.map(({ position, pendingSince }, i): JournalRow => ({
            position,
            kind: 'notification',
            channel: rows[i]!.channel,
            payload: rows[i]!.payload,
            receivedAt: rows[i]!.receivedAt,
            pendingSince,
            gapFrom: null,
            gapTo: null,
            mark: rows[i]!.mark,
            markOffset: rows[i]!.offset,
            recordedBy: instance,
          }));
          // Handed over on the next turn, once the next batch's write (if any) is on its way:
          // Postgres writes it while this instance publishes these. In order, before the flush ends.
          published = new Promise<void>((resolve) =>
            setImmediate(() => {
              try {
                onCommitted(committed);
              } finally {
                resolve();
              }
            }),
          );
        }
        if (appended.length > 0) owed = appended.at(-1)!.position;
        // Nothing left to write: let the publication run, then look again, so that what is heard
        // meanwhile (and finds this flush still running) is written by it, whatever the order of turns.
        const idle = this.backlog.size === 0 && !this.again;
        if (idle) {
          await published;
          // The hand-over started the subscribers' executions; those whose rows are loaded finish in
          // this turn's microtasks and write their frames. The hint waits for the next turn: its
          // write wakes a Postgres backend, which on a small machine takes the core from this
          // process meanwhile (measured: 0.2-0.4 ms added to every live event at 20-100 a second).
          await nextTurn();
        }
        if (owed !== null && (idle || Date.now() - this.hintedAt >= (this.options.hintEveryMs ?? 50))) {
          await this.hint(owed);
          owed = null;
        }
      }
    } finally {
      await published;
      // The loop ended with rows unhinted (a write failed after them, or leadership went).
      if (owed !== null) await this.hint(owed);
      this.flushing = false;
      this.relieve();
      done();
    }
  }
}

/** What a heard notification says, by its channel's one rule; null when malformed (or not a channel the gateway knows). */
function noticeOf(heard: Heard): Notice | null {
  if (!isChannel(heard.channel)) return null;
  const notice = parsePayload(heard.channel, heard.payload);
  return notice instanceof PayloadError ? null : notice;
}

/** The build a well-formed build_finished names first. */
function finishedBuild(heard: Heard): number | null {
  const notice = heard.channel === 'build_finished' ? noticeOf(heard) : null;
  return notice?.channel === 'build_finished' ? notice.buildId : null;
}

/** Whether `next` continues the split build_finished payload of `last` (same first id). */
function sameBuildFinished(last: Heard, next: Heard): boolean {
  const id = finishedBuild(last);
  return id !== null && finishedBuild(next) === id;
}

function toNew(heard: Heard, notice: Notice | null) {
  return {
    channel: heard.channel,
    payload: heard.payload,
    receivedAt: heard.receivedAt,
    buildId: notice?.channel === 'build_finished' ? notice.buildId : null,
    mark: heard.mark,
    offset: heard.offset,
  };
}
