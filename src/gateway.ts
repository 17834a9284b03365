/**
 * The gateway: composes the query pool, the LISTEN connection, the event
 * pipeline and hub, the GraphQL schema and the HTTP/WebSocket server.
 *
 * Contract:
 * - `startGateway` checks the database first (reachable, Hydra's tables
 *   present) and fails with a `StartupError` whose message says what to do,
 *   never a stack trace; then it LISTENs before it serves, so a client never
 *   subscribes to a gateway that is not yet listening.
 * - Each re-established LISTEN connection triggers a catch-up: every pending
 *   `build_finished` occurrence (from `builds.notificationpendingsince`) that
 *   no live notification already announced is published as a RECOVERED event.
 *   Subscribers stay connected throughout.
 * - `close()` stops serving, ends every subscription, closes the LISTEN
 *   connection and the pool, in that order. The gateway never owns the
 *   database server (see `db/embedded.ts`).
 */
import pg from 'pg';
import { EventHub } from './events/hub.js';
import { Pipeline } from './events/pipeline.js';
import { missingHydraTables } from './hydra/install.js';
import { createLoaders } from './hydra/loaders.js';
import { pendingOccurrences } from './hydra/queries/pendingBuilds.js';
import { Listener } from './listener/listener.js';
import type { Log } from './log.js';
import { renderMetrics } from './server/metrics.js';
import { startHttp } from './server/http.js';
import { schema } from './schema/index.js';

/** Settings of one gateway. */
export interface GatewayOptions {
  connectionString: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  log: Log;
  /** @default 10 */
  poolSize?: number;
  /** @default 50 */
  chunkWindowMs?: number;
  /** @default 200_000 */
  subscriberQueueLimit?: number;
  /** @default 60_000 // 1 minute */
  subscriberMaxLagMs?: number;
  /** @default 250 */
  reconnectMinMs?: number;
  /** @default 15_000 */
  reconnectMaxMs?: number;
  /** @default 10_000 */
  listenerProbeMs?: number;
}

/** A running gateway. */
export interface Gateway {
  /** `http://host:port/graphql` */
  url: string;
  hub: EventHub;
  pipeline: Pipeline;
  listener: Listener;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** A start-up failure with a message meant for the operator. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

function describeTarget(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    return 'the configured database';
  }
}

/** Checks the database, LISTENs, and serves; see the module contract. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { log } = options;
  const target = describeTarget(options.connectionString);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    application_name: 'hydra-notify-gateway',
  });
  // An idle client that loses its server must not crash the process.
  pool.on('error', (error) => log.warn('query pool connection lost', { error: error.message }));

  try {
    await pool.query('/* startupProbe */ SELECT 1');
  } catch (error) {
    await pool.end().catch(() => {});
    throw new StartupError(`cannot reach the database at ${target}: ${(error as Error).message}`);
  }
  const missing = await missingHydraTables(pool as unknown as pg.ClientBase);
  if (missing.length > 0) {
    await pool.end();
    throw new StartupError(
      `the database at ${target} lacks Hydra's tables (${missing.join(', ')}): is DATABASE_URL Hydra's database, and may this role read it?`,
    );
  }

  const hub = new EventHub();
  const pipeline = new Pipeline({ db: pool, hub, log, chunkWindowMs: options.chunkWindowMs ?? 50 });
  const listener = new Listener({
    connection: { connectionString: options.connectionString },
    reconnectMinMs: options.reconnectMinMs ?? 250,
    reconnectMaxMs: options.reconnectMaxMs ?? 15_000,
    probeMs: options.listenerProbeMs ?? 10_000,
    log: log.child({ component: 'listener' }),
    onNotification: (channel, payload, receivedAt) => pipeline.accept(channel, payload, receivedAt),
    onListening: ({ reconnected }) => {
      if (reconnected) void catchUp();
    },
  });

  async function catchUp(): Promise<void> {
    try {
      const recovered = pipeline.recover(await pendingOccurrences(pool));
      log.info('caught up after reconnect', { recoveredBuildFinished: recovered });
    } catch (error) {
      // The pool may still be reconnecting; the next reconnect retries, and the
      // pending set stays readable through pendingBuildFinished meanwhile.
      log.error('catch-up after reconnect failed', { error: (error as Error).message });
    }
  }

  try {
    await listener.start();
  } catch (error) {
    await pool.end();
    throw new StartupError(`cannot LISTEN on ${target}: ${(error as Error).message}`);
  }

  const subscriberQueueLimit = options.subscriberQueueLimit ?? 200_000;
  const subscriberMaxLagMs = options.subscriberMaxLagMs ?? 60_000;
  const http = await startHttp(
    {
      schema,
      context: () => ({ db: pool, loaders: createLoaders(pool), hub, subscriberQueueLimit, subscriberMaxLagMs }),
      healthy: () => listener.status.connected,
      metrics: () => renderMetrics({ pipeline: pipeline.stats, listener: listener.status, hub }),
      log: log.child({ component: 'http' }),
    },
    options.host,
    options.port,
  ).catch(async (error: Error) => {
    await listener.stop();
    await pool.end();
    throw new StartupError(`cannot serve on ${options.host}:${options.port}: ${error.message}`);
  });
  log.info('gateway ready', { url: http.url });

  return {
    url: http.url,
    hub,
    pipeline,
    listener,
    pool,
    async close() {
      pipeline.close();
      hub.close();
      await http.close();
      await listener.stop();
      await pool.end();
    },
  };
}
