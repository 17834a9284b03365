/**
 * Sends notifications the way Hydra does: each inside a transaction,
 * `NOTIFY chan, 'payload'` for single events (the queue runner's
 * build_started) and `SELECT pg_notify(…)` over many payloads for an
 * evaluation's burst, delivered at COMMIT.
 *
 * Contract: `schedule` is open-loop: event i is sent at `t0 + i × period`
 * whatever happened to the previous ones (a slow commit never delays the
 * schedule), over several connections, each with its own queue (no query is
 * ever handed to a busy pg client). Latencies are measured by the clients from
 * these intended times, so a late notifier counts against the server, never
 * for it; the notifier's own lateness (commit done minus intended) is
 * returned so a run can show it was not the bottleneck. `pids` are the
 * backends of the notifier's connections, to leave out of Postgres's CPU.
 */
import pg from 'pg';
import { nowUs, sleepUntilUs } from './clock.js';
import { Latency, type LatencySummary } from './histogram.js';

/** One open-loop schedule: ids firstId.. sent every periodUs from t0Us. */
export interface Schedule {
  channel: string;
  firstId: number;
  count: number;
  t0Us: number;
  periodUs: number;
}

/** The notifier's connections to one database. */
export class Notifier {
  private constructor(
    private readonly clients: pg.Client[],
    /** Backend pids of the notifier's connections. */
    readonly pids: number[],
  ) {}

  /** Opens `connections` connections to `url`. */
  static async open(url: string, connections = 4): Promise<Notifier> {
    const clients: pg.Client[] = [];
    const pids: number[] = [];
    for (let i = 0; i < connections; i++) {
      const client = new pg.Client({ connectionString: url, application_name: 'bench-notifier' });
      client.on('error', () => {});
      await client.connect();
      pids.push((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
      clients.push(client);
    }
    return new Notifier(clients, pids);
  }

  private static sql(client: pg.Client, channel: string, id: number): string {
    return `BEGIN; NOTIFY ${client.escapeIdentifier(channel)}, ${client.escapeLiteral(String(id))}; COMMIT`;
  }

  /** Sends `schedule` open-loop; resolves when every commit is done, with the notifier's lateness. */
  async schedule(schedule: Schedule): Promise<LatencySummary> {
    const lag = new Latency();
    const queues = this.clients.map(() => Promise.resolve());
    const busy = this.clients.map(() => 0);
    for (let i = 0; i < schedule.count; i++) {
      const intended = schedule.t0Us + i * schedule.periodUs;
      await sleepUntilUs(intended);
      // The least busy connection: a slow commit on one never holds back the next event.
      let c = 0;
      for (let k = 1; k < busy.length; k++) if (busy[k]! < busy[c]!) c = k;
      const client = this.clients[c]!;
      busy[c]!++;
      queues[c] = queues[c]!.then(() => client.query(Notifier.sql(client, schedule.channel, schedule.firstId + i))).then(() => {
        busy[c]!--;
        lag.record(nowUs() - intended);
      });
    }
    await Promise.all(queues);
    return lag.summary();
  }

  /** Sends ids firstId.. one per transaction as fast as Postgres takes them, spread over the connections. */
  async burst(channel: string, firstId: number, count: number): Promise<void> {
    let next = 0;
    await Promise.all(
      this.clients.map(async (client) => {
        while (next < count) {
          const id = firstId + next++;
          await client.query(Notifier.sql(client, channel, id));
        }
      }),
    );
  }

  /**
   * Sends ids firstId.. in transactions of `perTransaction` notifications
   * (`SELECT pg_notify` over a series), one transaction after the other on one
   * connection, as an evaluation's commit does; `onCommit` after each.
   */
  async bulk(
    channel: string,
    firstId: number,
    count: number,
    perTransaction: number,
    onCommit: (sent: number) => void = () => {},
  ): Promise<void> {
    const client = this.clients[0]!;
    for (let sent = 0; sent < count; sent += perTransaction) {
      const n = Math.min(perTransaction, count - sent);
      await client.query('BEGIN');
      await client.query('SELECT count(pg_notify($1, g::text)) FROM generate_series($2::int, $3::int) g', [
        channel,
        firstId + sent,
        firstId + sent + n - 1,
      ]);
      await client.query('COMMIT');
      onCommit(sent + n);
    }
  }

  /** Runs a query of the bench's own (not a notification) on the first connection, between sends. */
  async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.clients[0]!.query<R>(text, values);
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await Promise.allSettled(this.clients.map((c) => c.end()));
  }
}
