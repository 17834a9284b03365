/**
 * The gateway: composes the query pool, the LISTEN connection, the event
 * pipeline and hub, the GraphQL schema and the HTTP/WebSocket server.
 *
 * Contract:
 * - `startGateway` checks the database first (reachable, Hydra's tables
 *   present, its own schema migrated) and fails with a `StartupError` whose
 *   message says what to do, never a stack trace; then it LISTENs before it
 *   serves, so a client never subscribes to a gateway that is not listening.
 * - Notifications flow LISTEN → recorder (the one instance holding the lock
 *   journals them) → journal → reader (every instance) → pipeline → hub →
 *   subscriptions. See journal/recorder.ts for the guarantees.
 * - A re-established LISTEN connection makes this instance a candidate
 *   recorder again; a window nobody heard is journaled as a gap, followed by
 *   the pending build_finished recovered from Hydra's table. Subscribers stay
 *   connected throughout.
 * - `/metrics` (server/metrics.ts) is fed here: each notification heard,
 *   each event the live pipeline publishes, each acknowledgement's outcomes;
 *   the rest it reads from the parts at scrape time.
 * - `close()` stops serving and ends every subscription (WebSockets with
 *   1001, so clients reconnect elsewhere) while, side by side, the recorder
 *   journals what it still holds and closes its connection (releasing the
 *   recorder lock), and the LISTEN connection closes; then the pool closes. Every step runs even if another
 *   failed; the failures are thrown together (`AggregateError`). A start that
 *   fails releases what it had opened the same way. The gateway never owns
 *   the database server (see `db/embedded.ts`); bounding the time a close
 *   may take is the caller's (main.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import pg from 'pg';
import { Sessions } from './auth/sessions.js';
import { TokenService } from './auth/tokens.js';
import { ConsumerService } from './consumers/service.js';
import {
  CONSUMER_CHANNEL,
  JOURNAL_CHANNEL,
  MARK_CHANNEL,
  notifyInternal,
  READY_CHANNEL,
  TOKEN_CHANNEL,
  WEBHOOK_CHANNEL,
} from './db/channels.js';
import { EventHub } from './events/hub.js';
import { Pipeline } from './events/pipeline.js';
import { RowPrefetch } from './events/prefetch.js';
import type { StreamSource } from './events/subscribe.js';
import { missingHydraTables } from './hydra/install.js';
import { createLoaders } from './hydra/loaders.js';
import { migrate } from './db/migrate.js';
import { withClient } from './db/transaction.js';
import { JournalReader } from './journal/reader.js';
import { RecorderConnection } from './journal/connection.js';
import { Recorder, TAKEOVER_HINT } from './journal/recorder.js';
import { Retention } from './journal/retention.js';
import { Listener } from './listener/listener.js';
import type { Log } from './log.js';
import { journalStats } from './journal/queries/stats.js';
import { GatewayMetrics } from './server/metrics.js';
import { type HttpLimits, startHttp } from './server/http.js';
import { defaultAllowedHosts } from './server/policy.js';
import type { DirectRequests } from './server/requests.js';
import type { SharedSubscriptions } from './server/shared.js';
import { schema } from './schema/index.js';
import { compileSubscription } from './schema/subscriptions.js';
import { DEFAULT_SCHEDULE } from './webhooks/schedule.js';
import { WebhookService } from './webhooks/service.js';
import { DEFAULT_WEBHOOK_SETTINGS, type WebhookSettings, WebhookWorker } from './webhooks/worker.js';

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
  /** What a subscription's connection may hold unsent before SLOW_CONSUMER. @default 8_388_608 // 8 MiB */
  subscriberMaxBufferedBytes?: number;
  /** @default 250 */
  reconnectMinMs?: number;
  /** @default 15_000 */
  reconnectMaxMs?: number;
  /** @default 10_000 */
  listenerProbeMs?: number;
  /** This instance's name in the journal. @default host:pid:random */
  instance?: string;
  /** How often a non-recording instance tries to take over. @default 1_000 */
  lockRetryMs?: number;
  /** How long an instance whose connection came back waits before trying. @default 3_000 */
  reconnectGraceMs?: number;
  /** The recorder's heartbeat. @default 2_000 */
  heartbeatMs?: number;
  /** How often the journal is read without a hint (a backstop: the recorder's hints, one after each write or one per 50 ms in a burst, make every instance read sooner), ms. @default 1_000 */
  journalPollMs?: number;
  /** Notifications heard and not yet journaled before the LISTEN socket is paused. @default 10_000 */
  maxListenerBacklog?: number;
  /** How long the LISTEN socket may stay paused before the connection is dropped (and a gap journaled). @default 60_000 */
  listenerMaxPauseMs?: number;
  /** How long journal rows are kept. @default 30 days */
  retentionMs?: number;
  /** How often old rows are pruned. @default 600_000 // 10 minutes */
  pruneEveryMs?: number;
  /** Who clears Hydra's notificationpendingsince. @default 'owner' */
  mode?: 'owner' | 'observer';
  /** How long a consumer's delivery waits for its acknowledgement. @default 60_000 // 1 minute */
  visibilityTimeoutMs?: number;
  /** How often the recorder reconciles consumers with Hydra's pending builds. @default 60_000 */
  reconcileEveryMs?: number;
  /** What clients without a token may do. @default 'none' */
  anonymous?: 'none' | 'read';
  /** Origins whose pages may call the gateway. @default [] */
  corsOrigins?: readonly string[];
  /** Host names the gateway answers to; `'*'` for any. @default loopback names, `host` and this machine's name */
  allowedHosts?: readonly string[] | '*';
  /** Limits on documents, bodies, sockets and streams (see DEFAULT_LIMITS). */
  limits?: Partial<Limits>;
  /** How webhooks are delivered (see DEFAULT_WEBHOOK_SETTINGS; the schedule defaults to DEFAULT_SCHEDULE). */
  webhooks?: Partial<WebhookSettings>;
  /** How long /metrics serves one read of the journal's head and the consumers' backlogs. @default 5_000 // 5 seconds */
  metricsCacheMs?: number;
  /** Where the dashboard's build is (`npm run build:dashboard` writes it). @default dist/dashboard */
  dashboardDir?: string;
}

/** The limits of one gateway; `HNG_MAX_*` and `HNG_CONNECTION_INIT_TIMEOUT_MS` set them. */
export interface Limits extends HttpLimits {
  maxAckBatch: number;
  maxSseStreamsPerToken: number;
  maxSocketsPerToken: number;
}

/** The defaults of `Limits` (the README's configuration table gives the same). */
export const DEFAULT_LIMITS: Limits = {
  maxDepth: 12,
  maxCost: 50_000,
  maxAliases: 30,
  maxDirectives: 50,
  maxTokens: 5_000,
  maxBodyBytes: 1_048_576,
  maxMessageBytes: 1_048_576,
  maxAckBatch: 1_000,
  maxSubscriptionsPerSocket: 100,
  maxSocketsPerToken: 100,
  maxSseStreamsPerToken: 100,
  connectionInitTimeoutMs: 3_000,
  maxPendingPerAddress: 50,
};

/** A running gateway. */
export interface Gateway {
  /** `http://host:port/graphql` */
  url: string;
  /** The HTTP server (tests drop its connections). */
  server: Server;
  hub: EventHub;
  pipeline: Pipeline;
  metrics: GatewayMetrics;
  listener: Listener;
  recorder: Recorder;
  reader: JournalReader;
  retention: Retention;
  /** This instance's name in the journal. */
  instance: string;
  pool: pg.Pool;
  consumers: ConsumerService;
  tokens: TokenService;
  sessions: Sessions;
  webhooks: WebhookService;
  /** Delivers the webhooks this instance leases. */
  webhookWorker: WebhookWorker;
  /** Executions of subscription events, shared by identical subscriptions. */
  shared: SharedSubscriptions;
  /** Queries and mutations answered without yoga's request pipeline (server/requests.ts). */
  requests: DirectRequests;
  /** Stops everything, every step even if one fails; a second call waits for the first. */
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
  // An idle client that loses its server must not crash the process. While closing, a
  // connection that is still ending may see the database stop: expected, not worth a warning.
  let closing: Promise<void> | null = null;
  pool.on('error', (error) => (closing ? log.debug : log.warn)('query pool connection lost', { error: error.message }));

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

  try {
    await withClient(pool, migrate);
  } catch (error) {
    await pool.end();
    throw new StartupError(
      `cannot create the gateway's own schema hydra_notify_gateway on ${target}: ${(error as Error).message} (grant CREATE on the database, or create the schema for this role)`,
    );
  }

  const instance = options.instance ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const hub = new EventHub();
  const metrics: GatewayMetrics = new GatewayMetrics({
    instance,
    databaseNow: () => Date.now() + listener.clockOffsetMs,
    listener: () => listener.status,
    backlog: () => recorder.backlog.size,
    recording: () => recorder.recording,
    pipeline: () => pipeline.stats,
    overflows: () => hub.overflows,
    sessions: (kind) => sessions.count(kind),
    readerPosition: () => reader.position,
    snapshot: async () => {
      const [journal, backlogs, hooks] = await Promise.all([journalStats(pool), consumers.backlogs(), webhooks.list()]);
      const now = Date.now();
      return {
        journal,
        consumers: backlogs,
        webhooks: hooks.map((w) => ({
          webhook: w.name,
          pending: w.pending,
          dead: w.dead,
          behind: w.consumer === null && journal.head !== null ? Math.max(0, journal.head - w.cursor) : 0,
          oldestPendingAgeSeconds: w.oldestPendingAt ? Math.max(0, (now - w.oldestPendingAt.getTime()) / 1_000) : null,
          active: w.state === 'active',
        })),
      };
    },
    cacheMs: options.metricsCacheMs,
    log: log.child({ component: 'metrics' }),
  });
  // A live event's build row is loaded while its notification is journaled (events/prefetch.ts).
  const prefetch = new RowPrefetch({ db: pool, listens: (channel) => hub.listens(channel) });
  const pipeline = new Pipeline({
    db: pool,
    log,
    chunkWindowMs: options.chunkWindowMs ?? 50,
    journaling: () => recorder.journaling,
    loaders: (notice) => prefetch.take(notice),
    emit: (event) => {
      hub.publish(event);
      metrics.published(event);
      webhookWorker.hint();
    },
  });
  const listener: Listener = new Listener({
    connection: { connectionString: options.connectionString },
    reconnectMinMs: options.reconnectMinMs ?? 250,
    reconnectMaxMs: options.reconnectMaxMs ?? 15_000,
    probeMs: options.listenerProbeMs ?? 10_000,
    maxPauseMs: options.listenerMaxPauseMs,
    log: log.child({ component: 'listener' }),
    onNotification: (channel, payload, receivedAt, senderPid) => {
      // The rows of this instance's own journal writes come through `onCommitted`; a takeover's,
      // and every other instance's, are read.
      if (channel === JOURNAL_CHANNEL) {
        return senderPid === recorderConnection.pid && payload !== TAKEOVER_HINT ? undefined : reader.hint();
      }
      if (channel === CONSUMER_CHANNEL) return consumers.hints.emit(payload);
      if (channel === TOKEN_CHANNEL) {
        tokens.forget(Number(payload));
        return sessions.revoked(Number(payload));
      }
      if (channel === READY_CHANNEL) return readiness.get(payload)?.();
      if (channel === WEBHOOK_CHANNEL) return webhookWorker.changed();
      if (channel === MARK_CHANNEL) return recorder.hear(channel, payload, receivedAt);
      metrics.heard(channel);
      recorder.hear(channel, payload, receivedAt);
      // After the recorder's: its journal write is sent before the row's load (events/prefetch.ts).
      prefetch.heardPayload(channel, payload);
    },
    announce: () => recorder.firstMark(),
    onListening: (info) => {
      recorder.listening(info);
      // Rows journaled by another instance while this one could not hear the hint.
      if (info.reconnected) reader.hint();
    },
    onLost: () => recorder.lost(),
  });
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const tokens = new TokenService({ pool, log: log.child({ component: 'tokens' }) });
  const sessions = new Sessions({
    db: pool,
    log: log.child({ component: 'sessions' }),
    socketsPerPrincipal: limits.maxSocketsPerToken,
    streamsPerPrincipal: limits.maxSseStreamsPerToken,
  });
  /** LISTEN round trips under way for /readyz, by nonce. */
  const readiness = new Map<string, () => void>();
  const consumers: ConsumerService = new ConsumerService({
    pool,
    hub,
    mode: options.mode ?? 'owner',
    visibilityMs: options.visibilityTimeoutMs ?? 60_000,
    log: log.child({ component: 'consumers' }),
    recording: () => recorder.recording,
    reconcileEveryMs: options.reconcileEveryMs,
    maxAckBatch: limits.maxAckBatch,
    onAcknowledged: (_consumer, results) => metrics.acknowledged(results),
  });
  const webhooks = new WebhookService({ pool, compile: compileSubscription, consumers });
  const webhookWorker: WebhookWorker = new WebhookWorker({
    pool,
    consumers,
    compile: compileSubscription,
    instance,
    log: log.child({ component: 'webhooks' }),
    published: () => pipeline.settled,
    settings: { schedule: DEFAULT_SCHEDULE, ...DEFAULT_WEBHOOK_SETTINGS, ...options.webhooks },
    onAttempt: (webhook, outcome, latencyMs) => metrics.webhookAttempt(webhook, outcome, latencyMs),
  });
  const recorderConnection: RecorderConnection = new RecorderConnection({
    connection: { connectionString: options.connectionString },
    log: log.child({ component: 'recorder' }),
    onLost: () => recorder.connectionLost(),
  });
  const recorder = new Recorder({
    listener,
    connection: recorderConnection,
    instance,
    log: log.child({ component: 'recorder' }),
    lockRetryMs: options.lockRetryMs,
    reconnectGraceMs: options.reconnectGraceMs,
    heartbeatMs: options.heartbeatMs,
    maxBacklog: options.maxListenerBacklog,
    onCommitted: (rows) => reader.committed(rows),
    hooks: {
      appended: (tx, rows) => consumers.journaled(tx, rows),
      wants: (notice) => consumers.concerns(notice),
      gap: async (since) => void (await consumers.reconcile(since)),
    },
  });
  const reader = new JournalReader({
    db: pool,
    sink: pipeline,
    log,
    onRow: (row) => recorder.journaled(row),
    pollMs: options.journalPollMs,
  });
  const retention = new Retention({
    db: pool,
    log,
    retentionMs: options.retentionMs ?? 30 * 86_400_000,
    everyMs: options.pruneEveryMs,
    active: () => recorder.recording,
    alsoPrune: [(cutoff) => consumers.prune(cutoff), (cutoff) => webhooks.prune(cutoff)],
  });
  retention.start();

  try {
    await reader.start();
    await listener.start();
  } catch (error) {
    await settle(
      () => reader.stop(),
      () => retention.stop(),
      () => recorder.stop(),
      () => listener.stop(),
      () => pool.end(),
    );
    throw new StartupError(`cannot LISTEN on ${target}: ${(error as Error).message}`);
  }

  // A build_finished Hydra never sent (crash between finish and NOTIFY) still reaches consumers.
  consumers.start();
  sessions.start();
  webhookWorker.start();
  const streams: StreamSource = {
    db: pool,
    hub,
    published: () => pipeline.settled,
    queueLimit: options.subscriberQueueLimit ?? 200_000,
    maxLagMs: options.subscriberMaxLagMs ?? 60_000,
    maxBufferedBytes: options.subscriberMaxBufferedBytes ?? 8 * 1_048_576,
    log: log.child({ component: 'subscriptions' }),
  };
  hub.start();
  const http = await startHttp(
    {
      schema,
      context: ({ principal, transport, resumeAfter }) => {
        // A set whose loaders are made on first use (hydra/loaders.ts): a subscription's events
        // bring sets of their own, so most subscribers' contexts never make one.
        return {
          db: pool,
          loaders: createLoaders(pool),
          principal,
          consumers,
          tokens,
          webhooks,
          streams,
          transport,
          resumeAfter,
        };
      },
      tokens,
      sessions,
      policy: {
        anonymous: options.anonymous ?? 'none',
        corsOrigins: options.corsOrigins ?? [],
        allowedHosts: options.allowedHosts ?? defaultAllowedHosts(options.host),
      },
      limits,
      dashboardDir: options.dashboardDir,
      healthy: () => true,
      ready: async () => {
        try {
          await pool.query('/* readyProbe */ SELECT 1');
        } catch (error) {
          return `the query pool cannot reach the database: ${(error as Error).message}`;
        }
        if (!listener.status.connected) return 'the LISTEN connection is down';
        const nonce = randomBytes(6).toString('hex');
        const heard = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 2_000);
          readiness.set(nonce, () => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        await notifyInternal(pool, READY_CHANNEL, nonce).catch(() => {});
        const ok = await heard;
        readiness.delete(nonce);
        return ok ? null : 'a NOTIFY was not heard back on the LISTEN connection within 2 s';
      },
      metrics,
      log: log.child({ component: 'http' }),
    },
    options.host,
    options.port,
  ).catch(async (error: Error) => {
    consumers.stop();
    sessions.stop();
    await settle(
      () => webhookWorker.stop(),
      () => reader.stop(),
      () => retention.stop(),
      () => recorder.stop(),
      () => listener.stop(),
      () => pool.end(),
    );
    throw new StartupError(`cannot serve on ${options.host}:${options.port}: ${error.message}`);
  });
  // The database as the log may show it: the logger masks its password.
  log.info('gateway ready', { url: http.url, database: options.connectionString, instance });

  return {
    url: http.url,
    server: http.server,
    hub,
    pipeline,
    metrics,
    listener,
    pool,
    recorder,
    reader,
    retention,
    instance,
    consumers,
    tokens,
    sessions,
    webhooks,
    webhookWorker,
    shared: http.shared,
    requests: http.requests,
    close() {
      return (closing ??= closeAll());
    },
  };

  async function closeAll(): Promise<void> {
    consumers.stop();
    sessions.stop();
    retention.stop();
    // Two chains that do not wait for each other, so that a client slow to close its socket
    // delays neither the journal nor the release of the recorder lock; the pool, which both
    // use, closes last. Every step runs even if one before it failed.
    const failures = (
      await Promise.all([
        settle(
          () => http.close(), // stops accepting; every WebSocket ends with 1001, every SSE stream ends
          () => windDown(hub, pool), // the subscriptions of those clients end; a consumer's releases its leases
          () => hub.close(), // any left end now
        ),
        settle(
          () => webhookWorker.stop(), // the requests under way end and are recorded; the leases are given up
        ),
        settle(
          () => recorder.stop(), // journals what it still holds, then ends its session and with it the lock
          () => recorderConnection.shutdown(), // ends that session for good, even if the recorder's stop failed
          () => reader.stop(),
          () => pipeline.close(),
          () => prefetch.clear(),
          () => listener.stop(), // ends the LISTEN session
        ),
      ])
    ).flat();
    failures.push(...(await settle(() => endPool(pool))));
    if (failures.length > 0) {
      throw new AggregateError(failures, `closing the gateway: ${failures.map((e) => (e as Error)?.message ?? String(e)).join('; ')}`);
    }
  }
}

/** How long `close()` waits for the subscriptions of closed sockets to end. @default 2_000 */
const WIND_DOWN_MS = 2_000;

/**
 * Resolves once every subscription has ended and the pool has no query in
 * flight, or after `WIND_DOWN_MS`. A subscription ends a few steps after its
 * socket closed, and a consumer's then releases its leases through the pool:
 * ending the pool before that would keep them until the visibility timeout.
 * Neither the hub nor the pool tells when it becomes idle, hence the polling.
 */
async function windDown(hub: EventHub, pool: pg.Pool): Promise<void> {
  const deadline = Date.now() + WIND_DOWN_MS;
  const busy = () => hub.size > 0 || pool.totalCount > pool.idleCount || pool.waitingCount > 0;
  do await new Promise((resolve) => setTimeout(resolve, 10));
  while (busy() && Date.now() < deadline);
}

/**
 * Ends the pool and waits (at most `WIND_DOWN_MS`) until its connections
 * have closed: `pool.end()` resolves as soon as their ends have begun, and a
 * database stopped right after would still find them open.
 */
async function endPool(pool: pg.Pool): Promise<void> {
  let open = pool.totalCount;
  let timer: NodeJS.Timeout | undefined;
  let onRemove = () => {};
  // pg-pool emits 'remove' once a client's connection has ended.
  const closed = new Promise<void>((resolve) => {
    onRemove = () => void (--open <= 0 && resolve());
    timer = setTimeout(resolve, WIND_DOWN_MS);
    pool.on('remove', onRemove);
    if (open === 0) resolve();
  });
  try {
    await pool.end();
    await closed;
  } finally {
    clearTimeout(timer);
    pool.off('remove', onRemove);
  }
}

/**
 * Runs `steps` one after another, each even if one before it failed (as
 * graphile-worker's shutdown does); resolves the failures, in order.
 */
async function settle(...steps: (() => unknown)[]): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  return failures;
}
