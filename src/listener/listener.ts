/**
 * The LISTEN connection: one dedicated `pg` Client per gateway process, owned
 * by this module and never shared with the query pool.
 *
 * Contract:
 * - `start()` connects and LISTENs on every channel before resolving; a first
 *   connection that fails rejects, so start-up can report it clearly.
 * - Afterwards the connection is kept alive for the life of the listener: when
 *   it errors, ends, or fails a periodic probe query, it is discarded and a new
 *   one is made with jittered exponential backoff, forever, until `stop()`.
 * - Notifications are handed to `onNotification` synchronously, in the order
 *   Postgres delivered them (commit order), stamped with the time of receipt
 *   on the database's clock (a measured offset), comparable across instances,
 *   with the backend pid of the session that sent them.
 * - Delivery is at most once per connection: what was sent while no
 *   connection listened is lost to this module. Every successful LISTEN calls
 *   `onListening` first (with `reconnected` and the LISTEN's start times), so
 *   the recorder can account for the window it missed (journal/recorder.ts).
 * - `announce` (the recorder's first mark) is sent in the LISTEN's own
 *   transaction: it is queued at the commit that starts the listening, so
 *   what this connection hears before it is only the notifications of
 *   transactions committing at that same moment (Postgres queues them in
 *   commit order and skips what was committed before). One of those can be
 *   a Hydra evaluation's thousands. A connect whose announcement fails (a
 *   payload over `MAX_INTERNAL_PAYLOAD`, a full notification queue) fails as
 *   a whole: nothing listens without its mark.
 * - Its server session carries TCP keepalives. Statements on it (marks,
 *   syncs, the probe) are serialized by design, in exclusive turns
 *   (db/turns.ts); a turn belongs to the connection it started on.
 * - `syncedAt` is the proof that it listens: every notification committed
 *   before that instant (the database's clock, the sending of the last
 *   answered statement on this connection) has been handed on, since
 *   Postgres delivers what a session was notified of before answering it.
 *   The recorder's heartbeat never claims more (journal/recorder.ts), so a
 *   connection that died silently cannot make it claim what nobody heard.
 * - Back-pressure: `pause()` stops reading the socket, so notifications wait
 *   in Postgres's queue (which holds gigabytes) instead of this process;
 *   `resume()` reads on. A pause is not a stall for the probe. A pause that
 *   lasts `maxPauseMs` ends the connection as lost (a reconnect, and the
 *   recorder's gap accounting): Postgres's queue is shared by every
 *   listener, Hydra's own among them, and must not fill because one
 *   gateway stopped reading.
 * - In a SQL_ASCII database the session takes payloads as bytes, so that one
 *   that is not UTF-8 cannot end it (`ENCODING_SQL`).
 */
import pg from 'pg';
import { INTERNAL_CHANNELS, type InternalChannel, notifyInternalStatement } from '../db/channels.js';
import { keepSessionAlive } from '../db/keepalive.js';
import type { Queryable } from '../db/queryable.js';
import { Turns } from '../db/turns.js';
import { CHANNELS } from '../hydra/channels.js';
import type { Log } from '../log.js';
import { backoffDelay } from '../db/backoff.js';

/** The socket a `pg.Client` reads from (pg keeps it as `connection.stream`). */
function streamOf(client: pg.Client): NodeJS.ReadableStream {
  return (client as unknown as { connection: { stream: NodeJS.ReadableStream } }).connection.stream;
}

/** How the listener connects and reports. */
export interface ListenerOptions {
  /** Connection settings for the dedicated LISTEN connection. */
  connection: pg.ClientConfig;
  /** Called for every notification, in delivery order, with the backend pid of the session that sent it. */
  onNotification: (channel: string, payload: string, receivedAt: Date, senderPid: number) => void;
  /**
   * Called after every successful LISTEN, before any notification of the new
   * connection is handed on; `reconnected` is false the first time;
   * Everything sent after `listeningSince` is heard; nothing sent before
   * `listenSentAt` is (both the database's clock, around the LISTEN statement).
   */
  onListening?: (info: { reconnected: boolean; downSince: Date | null; attempt: number; listeningSince: Date; listenSentAt: Date }) => void;
  /**
   * A notification to send in the LISTEN's own transaction, asked for on every
   * connect: it is queued at the very commit that starts the listening, so
   * nothing committed after the LISTEN reaches this connection before it.
   */
  announce?: () => { channel: InternalChannel; payload: string };
  /** Called when the connection is lost (before reconnecting). */
  onLost?: (error: Error) => void;
  /** @default 250 */
  reconnectMinMs?: number;
  /** @default 15_000 // 15 seconds */
  reconnectMaxMs?: number;
  /** Probe the connection with `SELECT 1` this often. @default 10_000 // 10 seconds */
  probeMs?: number;
  /** A pause this long ends the connection (see the contract). @default 60_000 // a minute */
  maxPauseMs?: number;
  log: Log;
}

/** Channels LISTENed on (Hydra's and the gateway's own), quoted identifiers from fixed tables. */
const LISTEN_SQL = [...CHANNELS, ...INTERNAL_CHANNELS].map((c) => `LISTEN ${pg.escapeIdentifier(c)};`).join(' ');

/** The announcement's statement, appended to the LISTENs. */
function announcement(notice: { channel: InternalChannel; payload: string } | undefined): string {
  return notice ? ` ${notifyInternalStatement(notice.channel, notice.payload)}` : '';
}

/**
 * A SQL_ASCII database takes any bytes in a NOTIFY payload, and Postgres ends
 * (FATAL) a UTF8 session it cannot convert a notification for: one such
 * NOTIFY, from any role, would cost every gateway its LISTEN connection and
 * what was sent meanwhile. There the session takes the bytes as they are (pg
 * decodes them as UTF-8: what is not becomes U+FFFD, and the payload is then
 * malformed, dropped and counted). Elsewhere Postgres converts: UTF8 stays.
 */
const ENCODING_SQL = `/* listenerEncoding */ SELECT set_config('client_encoding', 'SQL_ASCII', false) WHERE current_setting('server_encoding') = 'SQL_ASCII'`;

/** The database's clock, read on `client`. */
async function databaseNow(client: pg.Client): Promise<Date> {
  const { rows } = await client.query<{ now: Date }>('/* databaseNow */ SELECT clock_timestamp() AS now');
  return rows[0]!.now;
}

/** Observable state of the LISTEN connection. */
export interface ListenerState {
  connected: boolean;
  /** The backend pid of the current connection, when connected. */
  backendPid: number | null;
  /** How many times a lost connection was re-established. */
  reconnects: number;
  /** When the connection was lost, while it is down. */
  downSince: Date | null;
  /** Whether reading is paused (back-pressure). */
  paused: boolean;
  /** How many times reading was paused. */
  pauses: number;
}

/** The dedicated LISTEN connection with reconnect; see the module contract. */
export class Listener {
  private client: pg.Client | null = null;
  private session: Turns | null = null;
  private connecting: pg.Client | null = null;
  private stopped = false;
  /** The database's clock minus this machine's, measured at the last connect (ms). */
  clockOffsetMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private probe: NodeJS.Timeout | null = null;
  private attempt = 0;
  /** See `syncedAt` (the database's clock, ms). */
  private syncedAtMs = 0;
  private pauseTimer: NodeJS.Timeout | null = null;
  private readonly state: ListenerState = { connected: false, backendPid: null, reconnects: 0, downSince: null, paused: false, pauses: 0 };

  constructor(private readonly options: ListenerOptions) {}

  /** A snapshot of the connection state (for health checks and tests). */
  get status(): Readonly<ListenerState> {
    return { ...this.state, paused: this.paused };
  }

  /**
   * Every notification committed before this instant (the database's clock,
   * ms since the epoch) has been handed on; see the contract.
   */
  get syncedAt(): number {
    return this.syncedAtMs;
  }

  /** Whether reading is paused (`pause`). */
  get paused(): boolean {
    return this.pauseTimer !== null;
  }

  /** Stops reading the socket: notifications wait in Postgres (see the contract). */
  pause(): void {
    const client = this.client;
    if (!client || this.pauseTimer) return;
    streamOf(client).pause();
    this.state.pauses++;
    const since = Date.now();
    const limit = this.options.maxPauseMs ?? 60_000;
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = null;
      this.lost(
        client,
        new Error(`reading paused for ${Math.round((Date.now() - since) / 1_000)} s: what it hears is not being journaled`),
      );
    }, limit);
    this.pauseTimer.unref();
  }

  /** Reads on after `pause`. */
  resume(): void {
    if (!this.pauseTimer || !this.client) return;
    // The probe measures silence from here: what waited meanwhile is read first.
    if (this.session) this.session.lastProgress = Date.now();
    this.unpause(this.client);
  }

  /** One round trip on the connection: resolves once `syncedAt` covers the moment it was called. */
  async sync(): Promise<void> {
    await this.query('/* listenerSync */ SELECT 1');
  }

  /** Connects and LISTENs; rejects if this first attempt fails. */
  async start(): Promise<void> {
    await this.connect(false);
  }

  /** Closes the connection and cancels any pending reconnect. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.probe) clearInterval(this.probe);
    const client = this.client;
    if (client) this.unpause(client);
    this.client = null;
    this.session = null;
    this.state.connected = false;
    if (client) await client.end().catch(() => {});
  }

  private async connect(reconnected: boolean): Promise<void> {
    const client = new pg.Client({ ...this.options.connection, keepAlive: true, application_name: 'hydra-notify-gateway:listen' });
    // Until LISTEN succeeded the client is only `connecting`: its errors reject
    // the statements below (one reconnect path), not `lost` (which would be a second).
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    // Times are the database's clock (local clock + measured offset), so that
    // instances on different machines compare them meaningfully.
    let offsetMs = 0;
    // Notifications that arrive before `onListening` ran wait for it, so the
    // caller learns of the new connection before any of its notifications.
    let early: [string, string, Date, number][] | null = [];
    client.on('notification', (n) => {
      if (client !== this.client && client !== this.connecting) return;
      const at = new Date(Date.now() + offsetMs);
      if (early) early.push([n.channel, n.payload ?? '', at, n.processId]);
      else this.options.onNotification(n.channel, n.payload ?? '', at, n.processId);
    });
    let listeningSince: Date;
    let listenSentAt: Date;
    this.connecting = client;
    try {
      await client.connect();
      // The server must notice a dead client soon too: its place in the
      // notification queue holds the queue for every listener.
      await keepSessionAlive(client);
      await client.query(ENCODING_SQL);
      const before = Date.now();
      listenSentAt = await databaseNow(client);
      offsetMs = listenSentAt.getTime() - (before + Date.now()) / 2;
      // One simple query: the LISTENs and the announcement commit together.
      await client.query(`/* listen */ ${LISTEN_SQL}${announcement(this.options.announce?.())}`);
      listeningSince = await databaseNow(client);
    } catch (error) {
      client.removeAllListeners('end');
      client.removeAllListeners('notification');
      await client.end().catch(() => {});
      throw error;
    } finally {
      this.connecting = null;
    }
    this.client = client;
    const session: Turns = new Turns(
      client,
      'LISTEN',
      () => this.session === session,
      (sentAt) => (this.syncedAtMs = Math.max(this.syncedAtMs, sentAt + offsetMs)),
    );
    this.session = session;
    this.clockOffsetMs = offsetMs;
    this.syncedAtMs = listenSentAt.getTime();
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    const downSince = this.state.downSince;
    Object.assign(this.state, {
      connected: true,
      backendPid: (client as unknown as { processID: number | null }).processID ?? null,
      downSince: null,
      reconnects: this.state.reconnects + (reconnected ? 1 : 0),
    });
    const attempt = this.attempt;
    this.attempt = 0;
    this.startProbe(client);
    this.options.log.info(reconnected ? 'listener reconnected' : 'listener listening', {
      channels: CHANNELS.length + INTERNAL_CHANNELS.length,
      backendPid: this.state.backendPid,
      ...(reconnected ? { attempts: attempt, downMs: downSince ? Date.now() - downSince.getTime() : 0 } : {}),
    });
    this.options.onListening?.({ reconnected, downSince, attempt, listeningSince, listenSentAt });
    const waiting = early;
    early = null;
    for (const [channel, payload, at, pid] of waiting) this.options.onNotification(channel, payload, at, pid);
  }

  /**
   * Runs `fn` with the LISTEN connection to itself, after every turn queued
   * before it (db/turns.ts). `fn` must use the `db` it is given. Rejects when
   * not connected, and a statement of a turn whose connection was lost rejects.
   */
  exclusive<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    const session = this.session;
    if (!session) return Promise.reject(new Error('the LISTEN connection is down'));
    return session.run(fn);
  }

  /** Runs one statement on the LISTEN connection, in its turn (see `exclusive`). */
  query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    return this.exclusive((db) => db.query(text, values));
  }

  private startProbe(client: pg.Client): void {
    if (this.probe) clearInterval(this.probe);
    const every = this.options.probeMs ?? 10_000;
    this.probe = setInterval(() => {
      const session = this.session;
      if (!session || session.client !== client || this.paused) return;
      // A half-open TCP connection delivers nothing and raises nothing; a
      // probe that does not answer exposes it. The probe waits for its turn:
      // while other turns keep completing statements, the connection is alive.
      let answered = false;
      const queuedAt = Date.now();
      const check = () => {
        if (answered || this.session !== session) return;
        if (this.paused) {
          deadline = setTimeout(check, every);
          return;
        }
        const stalled = session.lastProgress < queuedAt || Date.now() - session.lastProgress >= every;
        if (stalled) this.lost(client, new Error('probe query timed out'));
        else deadline = setTimeout(check, every);
      };
      let deadline = setTimeout(check, every);
      this.exclusive((db) => db.query('/* listenerProbe */ SELECT 1')).then(
        () => {
          answered = true;
          clearTimeout(deadline);
        },
        (error: Error) => {
          answered = true;
          clearTimeout(deadline);
          this.lost(client, error);
        },
      );
    }, every);
    this.probe.unref();
  }

  private lost(client: pg.Client, error: Error): void {
    if (client !== this.client || this.stopped) return;
    this.client = null;
    this.session = null;
    this.unpause(client);
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    Object.assign(this.state, { connected: false, backendPid: null, downSince: new Date() });
    client.removeAllListeners('notification');
    client.end().catch(() => {});
    this.options.log.warn('listener connection lost', { error: error.message });
    this.options.onLost?.(error);
    this.schedule();
  }

  /**
   * Reads `client`'s socket again if paused: on `resume`, and before the
   * client is ended (a paused socket would never see the server's end).
   */
  private unpause(client: pg.Client): void {
    if (!this.pauseTimer) return;
    clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    streamOf(client).resume();
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.options.reconnectMinMs ?? 250, this.options.reconnectMaxMs ?? 15_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect(true).catch((error: Error) => {
        this.options.log.warn('listener reconnect failed', { error: error.message, attempt: this.attempt });
        this.schedule();
      });
    }, delay);
  }
}
