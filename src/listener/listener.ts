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
 *   and marked `own` when this connection's session sent them.
 * - Delivery is at most once per connection: what was sent while no
 *   connection listened is lost to this module. Every successful LISTEN calls
 *   `onListening` first (with `reconnected` and the LISTEN's start times), so
 *   the recorder can account for the window it missed (journal/recorder.ts).
 * - Its server session carries TCP keepalives and the recorder's advisory
 *   lock. Statements on it are serialized by design: `exclusive(fn)` gives
 *   `fn` the connection to itself (a whole transaction, or one statement),
 *   turn by turn, so a statement never runs inside another caller's
 *   transaction and pg never sees a second query while one executes. The
 *   probe takes its turn like any caller. A turn belongs to the connection it
 *   started on: after a reconnect, a statement of an old turn fails rather
 *   than run on the new connection.
 * - In a SQL_ASCII database the session takes payloads as bytes, so that one
 *   that is not UTF-8 cannot end it (`ENCODING_SQL`).
 */
import pg from 'pg';
import { INTERNAL_CHANNELS } from '../db/channels.js';
import type { Queryable } from '../db/queryable.js';
import { CHANNELS } from '../hydra/channels.js';
import type { Log } from '../log.js';
import { backoffDelay } from './backoff.js';

/** How the listener connects and reports. */
export interface ListenerOptions {
  /** Connection settings for the dedicated LISTEN connection. */
  connection: pg.ClientConfig;
  /** Called for every notification, in delivery order; `own`: sent by this connection's session. */
  onNotification: (channel: string, payload: string, receivedAt: Date, own: boolean) => void;
  /**
   * Called after every successful LISTEN, before any notification of the new
   * connection is handed on; `reconnected` is false the first time;
   * Everything sent after `listeningSince` is heard; nothing sent before
   * `listenSentAt` is (both the database's clock, around the LISTEN statement).
   */
  onListening?: (info: { reconnected: boolean; downSince: Date | null; attempt: number; listeningSince: Date; listenSentAt: Date }) => void;
  /** Called when the connection is lost (before reconnecting). */
  onLost?: (error: Error) => void;
  /** @default 250 */
  reconnectMinMs?: number;
  /** @default 15_000 // 15 seconds */
  reconnectMaxMs?: number;
  /** Probe the connection with `SELECT 1` this often. @default 10_000 // 10 seconds */
  probeMs?: number;
  log: Log;
}

/** Channels LISTENed on (Hydra's and the gateway's own), quoted identifiers from fixed tables. */
const LISTEN_SQL = [...CHANNELS, ...INTERNAL_CHANNELS].map((c) => `LISTEN ${pg.escapeIdentifier(c)};`).join(' ');

/** Server-side TCP keepalives of the LISTEN session: a vanished client is dropped within about 25 s. */
const KEEPALIVE_SQL = '/* listenerKeepalive */ SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3';

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
}

/** One connection's queue of exclusive turns. */
interface Session {
  client: pg.Client;
  /** Settles when the last turn queued so far has ended. */
  tail: Promise<unknown>;
  /** When a statement on it last completed (this machine's clock). */
  lastProgress: number;
}

/** The dedicated LISTEN connection with reconnect; see the module contract. */
export class Listener {
  private client: pg.Client | null = null;
  private session: Session | null = null;
  private connecting: pg.Client | null = null;
  private stopped = false;
  /** The database's clock minus this machine's, measured at the last connect (ms). */
  clockOffsetMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private probe: NodeJS.Timeout | null = null;
  private attempt = 0;
  private readonly state: ListenerState = { connected: false, backendPid: null, reconnects: 0, downSince: null };

  constructor(private readonly options: ListenerOptions) {}

  /** A snapshot of the connection state (for health checks and tests). */
  get status(): Readonly<ListenerState> {
    return { ...this.state };
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
    let early: [string, string, Date, boolean][] | null = [];
    client.on('notification', (n) => {
      if (client !== this.client && client !== this.connecting) return;
      const at = new Date(Date.now() + offsetMs);
      const own = n.processId === (client as unknown as { processID: number | null }).processID;
      if (early) early.push([n.channel, n.payload ?? '', at, own]);
      else this.options.onNotification(n.channel, n.payload ?? '', at, own);
    });
    let listeningSince: Date;
    let listenSentAt: Date;
    this.connecting = client;
    try {
      await client.connect();
      // The server must notice a dead client soon too: its session holds the
      // recorder's lock, which no other instance can take while it lives.
      await client.query(KEEPALIVE_SQL);
      await client.query(ENCODING_SQL);
      const before = Date.now();
      listenSentAt = await databaseNow(client);
      offsetMs = listenSentAt.getTime() - (before + Date.now()) / 2;
      await client.query(LISTEN_SQL);
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
    this.session = { client, tail: Promise.resolve(), lastProgress: Date.now() };
    this.clockOffsetMs = offsetMs;
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
    for (const [channel, payload, at, own] of waiting) this.options.onNotification(channel, payload, at, own);
  }

  /**
   * Runs `fn` with the LISTEN connection to itself, after every turn queued
   * before it. The recorder works this way: its advisory lock and its writes
   * must die with this connection, so that only an instance that is
   * listening can record. `fn` must use the `db` it is given (calling
   * `exclusive` again from inside would wait for itself). Rejects when not
   * connected, and a statement of a turn whose connection was lost rejects.
   */
  exclusive<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    const session = this.session;
    if (!session) return Promise.reject(new Error('the LISTEN connection is down'));
    const db: Queryable = {
      query: async (text, values) => {
        if (this.session !== session) throw new Error('the LISTEN connection was lost');
        const result = await session.client.query(text, values);
        session.lastProgress = Date.now();
        return result;
      },
    };
    const turn = session.tail.then(() => fn(db));
    session.tail = turn.catch(() => {});
    return turn;
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
      if (!session || session.client !== client) return;
      // A half-open TCP connection delivers nothing and raises nothing; a
      // probe that does not answer exposes it. The probe waits for its turn:
      // while other turns keep completing statements, the connection is alive.
      let answered = false;
      const queuedAt = Date.now();
      const check = () => {
        if (answered || this.session !== session) return;
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
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    Object.assign(this.state, { connected: false, backendPid: null, downSince: new Date() });
    client.removeAllListeners('notification');
    client.end().catch(() => {});
    this.options.log.warn('listener connection lost', { error: error.message });
    this.options.onLost?.(error);
    this.schedule();
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
