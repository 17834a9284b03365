/**
 * The recorder's connection: one dedicated `pg` Client per gateway process,
 * apart from the LISTEN connection and the query pool, whose session holds
 * the recorder's advisory lock and writes the journal.
 *
 * Contract:
 * - It connects on first use (`exclusive`) and again on the first use after
 *   it was lost or closed; concurrent first uses share one connect.
 * - Statements run in exclusive turns (db/turns.ts): the lock attempt, a
 *   takeover's transaction, a journal write each run alone, and a statement
 *   of a turn whose connection was lost fails.
 * - When the connection errors or ends by itself, `onLost` is called once
 *   (the lock went with the session); `close()` ends it without calling
 *   `onLost`, and with it the lock. `shutdown()` (the gateway's close) ends
 *   it for good: a later use rejects instead of connecting again, so a
 *   recorder whose own stop failed cannot reopen it.
 * - Its server session carries TCP keepalives: when this process vanishes,
 *   Postgres ends the session within about 25 s and the lock frees for
 *   another instance.
 * - Apart from the LISTEN connection so that the LISTEN socket can be paused
 *   (back-pressure) while the journal is written: a write's answer never
 *   waits behind notifications (decision 2 says how the fence holds).
 */
import pg from 'pg';
import { keepSessionAlive } from '../db/keepalive.js';
import type { Queryable } from '../db/queryable.js';
import { Turns } from '../db/turns.js';
import type { Log } from '../log.js';

/** How the recorder's connection connects and reports. */
export interface RecorderConnectionOptions {
  connection: pg.ClientConfig;
  /** The connection was lost by itself (not by `close`). */
  onLost?: (error: Error) => void;
  log: Log;
}

/** The recorder's dedicated connection; see the module contract. */
export class RecorderConnection {
  private session: Turns | null = null;
  private opening: Promise<Turns> | null = null;
  private shut = false;

  constructor(private readonly options: RecorderConnectionOptions) {}

  /** The backend pid of the session, while connected. */
  get pid(): number | null {
    return (this.session?.client as unknown as { processID?: number } | undefined)?.processID ?? null;
  }

  /**
   * Runs `fn` with the connection to itself, connecting first if needed
   * (unless `connect` is false: then it rejects when not connected).
   * Rejects when connecting fails, and a statement of a turn whose
   * connection was lost rejects.
   */
  async exclusive<T>(fn: (db: Queryable) => Promise<T>, connect = true): Promise<T> {
    if (this.shut) throw new Error("the recorder's connection is shut down");
    if (!this.session && !connect) throw new Error("the recorder's connection is closed");
    const session = this.session ?? (await (this.opening ??= this.open().finally(() => (this.opening = null))));
    return session.run(fn);
  }

  /** Ends the session for good; see the module contract. */
  async shutdown(): Promise<void> {
    this.shut = true;
    await this.close();
  }

  /** Ends the session (and the lock it holds); the next `exclusive` connects anew. */
  async close(): Promise<void> {
    const opening = this.opening;
    const session = this.session ?? (opening ? await opening.catch(() => null) : null);
    if (this.session === session) this.session = null;
    if (!session) return;
    session.client.removeAllListeners('end');
    await session.client.end().catch(() => {});
  }

  private async open(): Promise<Turns> {
    const client = new pg.Client({ ...this.options.connection, keepAlive: true, application_name: 'hydra-notify-gateway:record' });
    const session: Turns = new Turns(client, 'recorder', () => this.session === session);
    const lost = (error: Error) => {
      if (this.session !== session) return;
      this.session = null;
      client.end().catch(() => {});
      this.options.log.warn("recorder's connection lost", { error: error.message });
      this.options.onLost?.(error);
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    try {
      await client.connect();
      await keepSessionAlive(client);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw error;
    }
    this.session = session;
    return session;
  }
}
