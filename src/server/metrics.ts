/**
 * `/metrics`: every metric of the gateway, defined here and nowhere else, in
 * the Prometheus text format (prom-client).
 *
 * Contract:
 * - hydra-notify's names where the meaning is the same, exactly as it spells
 *   them (`notify_event`, `notify_event_error`, `notify_event_runtime`,
 *   `event_received`: no `_total`), so its dashboards and alerts work
 *   unchanged; the gateway's own are `hng_…` (counters end in `_total`, as
 *   Prometheus advises). prom-client's process and Node.js metrics once per
 *   process, shared by every gateway of the process (its garbage-collection
 *   histogram is this module's, counting every collection).
 * - Lower layers never import this module: they count (the pipeline's
 *   stats, the hub's overflows, the listener's reconnects, the sessions) and
 *   this module reads the counts at scrape time; what must be observed as it
 *   happens is reported by the composition (gateway.ts: `heard`,
 *   `published`, `acknowledged`) or by the transports (deliveries.ts).
 * - What only the database knows (the journal's head and ages, every
 *   consumer's backlog) is read at scrape time through `snapshot`, at most
 *   once per `cacheMs` however many scrape (concurrent scrapes share one
 *   read). When that read fails, those gauges are left out of the answer
 *   (never stale or zero values), `hng_database_up` is 0, and the failure is
 *   logged once until a read succeeds again; the rest is still served.
 * - Times of receipt are the database's clock (listener.ts), so ages are
 *   measured against `databaseNow`.
 */
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionKind } from '../auth/sessions.js';
import type { ConsumerBacklog } from '../consumers/service.js';
import type { GatewayEvent } from '../events/event.js';
import type { PipelineStats } from '../events/pipeline.js';
import { CHANNELS } from '../hydra/channels.js';
import type { JournalStats } from '../journal/queries/stats.js';
import type { ListenerState } from '../listener/listener.js';
import type { Log } from '../log.js';
import type { Context } from '../schema/builder.js';

/** What only the database knows, read at scrape time. */
export interface DatabaseSnapshot {
  journal: JournalStats;
  consumers: readonly ConsumerBacklog[];
  webhooks: readonly WebhookBacklog[];
}

/** One webhook's backlog, as /metrics shows it. */
export interface WebhookBacklog {
  webhook: string;
  /** Deliveries waiting (to be attempted, or retried). */
  pending: number;
  dead: number;
  /** Journal positions after its cursor it has not read yet (0 for a consumer-bound one). */
  behind: number;
  oldestPendingAgeSeconds: number | null;
  active: boolean;
}

/** Where the metrics read what the gateway's parts count. */
export interface MetricsSources {
  /** This instance's name (the `instance` label of `hng_recording`). */
  instance: string;
  /** Now on the database's clock, in ms since the epoch. */
  databaseNow: () => number;
  listener: () => Readonly<ListenerState>;
  /** Notifications heard and not known to be journaled (the recorder's backlog). */
  backlog: () => number;
  recording: () => boolean;
  pipeline: () => PipelineStats;
  /** Subscriptions the hub ended with SLOW_CONSUMER. */
  overflows: () => number;
  /** Open WebSockets and SSE streams. */
  sessions: (kind: SessionKind) => number;
  /** The journal position this instance's reader has published through. */
  readerPosition: () => number;
  snapshot: () => Promise<DatabaseSnapshot>;
  /** How long a snapshot serves scrapes. @default 5_000 // 5 seconds */
  cacheMs?: number;
  log: Log;
}

/** A transport a subscription's results leave on: `http` is an HTTP request for one that is not SSE (yoga answers it 406). */
export type MetricsTransport = 'ws' | 'sse' | 'http';

/** What a subscription resolver notes about the event it delivered (schema/builder.ts `lastDelivered`). */
export type DeliveredEvent = NonNullable<Context['lastDelivered']>;

/** Delivery lag buckets, seconds: live deliveries take milliseconds; SLOW_CONSUMER ends them at a minute. */
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

let processRegistry: Registry | null = null;

/**
 * prom-client's default metrics (process_*, nodejs_*), collected once per process, with its
 * `nodejs_gc_duration_seconds` replaced by one of the same name, help and buckets that counts every
 * collection: prom-client's observer takes the first of the entries Node hands it in one call, and
 * Node hands several at once when collections come close together, as they do under load.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    processRegistry.removeSingleMetric(GC_DURATION);
    observeCollections(processRegistry);
  }
  return processRegistry;
}

const GC_DURATION = 'nodejs_gc_duration_seconds';
const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Observes every garbage collection of the process into `registry`'s `nodejs_gc_duration_seconds`. */
function observeCollections(registry: Registry): void {
  const histogram = new Histogram({
    name: GC_DURATION,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    registers: [registry],
  });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1];
      if (kind) histogram.observe({ kind }, entry.duration / 1_000);
    }
  }).observe({ entryTypes: ['gc'] });
}

/** Sets a label-less counter to a count kept elsewhere (counters only rise, and so do those counts). */
function mirror(read: () => number) {
  return function (this: Counter) {
    this.reset();
    this.inc(read());
  };
}

/** The metrics of one gateway; see the module contract. */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly notifyEvent: Counter<'channel'>;
  private readonly eventReceived: Counter;
  private readonly runtime: Histogram<'channel'>;
  private readonly deliveries: Counter<'channel' | 'transport'>;
  private readonly lag: Histogram<'transport'>;
  private readonly subscriptions: Gauge<'transport'>;
  private readonly acknowledgements: Counter<'outcome'>;
  private readonly webhookAttempts: Counter<'webhook' | 'outcome'>;
  private readonly webhookLatency: Histogram<'webhook'>;
  private cached: { at: number; snapshot: Promise<DatabaseSnapshot | null> } | null = null;
  private failing = false;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    const channels = [...CHANNELS];
    const stats = () => sources.pipeline();

    // hydra-notify's names.
    this.notifyEvent = new Counter({
      name: 'notify_event',
      help: 'Notifications received on the LISTEN connection, by channel.',
      labelNames: ['channel'],
      registers,
    });
    new Counter({
      name: 'notify_event_error',
      help: 'Notifications whose payload was malformed, dropped (never sent to a client), by channel.',
      labelNames: ['channel'],
      registers,
      collect() {
        this.reset();
        for (const channel of channels) this.inc({ channel }, 0);
        for (const [channel, n] of stats().malformed) this.inc({ channel }, n);
      },
    });
    this.runtime = new Histogram({
      name: 'notify_event_runtime',
      help: 'Seconds from the receipt of a notification on the LISTEN connection to its event being published to subscribers, by channel.',
      labelNames: ['channel'],
      registers,
    });
    this.eventReceived = new Counter({
      name: 'event_received',
      help: 'Notifications received on the LISTEN connection, all channels.',
      registers,
    });
    for (const channel of channels) this.notifyEvent.inc({ channel }, 0);

    // The gateway's own.
    new Counter({
      name: 'hng_events_published_total',
      help: 'Events the live pipeline published to subscribers, by channel (gap: a window no instance listened).',
      labelNames: ['channel'],
      registers,
      collect() {
        this.reset();
        for (const [channel, n] of stats().published) this.inc({ channel }, n);
      },
    });
    this.deliveries = new Counter({
      name: 'hng_deliveries_total',
      help: 'Events written to subscribers, by channel and transport.',
      labelNames: ['channel', 'transport'],
      registers,
    });
    this.lag = new Histogram({
      name: 'hng_delivery_lag_seconds',
      help: 'Seconds from the receipt of a notification to its event being written to a live subscriber (not replays, not consumer redeliveries), by transport.',
      labelNames: ['transport'],
      buckets: LAG_BUCKETS,
      registers,
    });
    this.subscriptions = new Gauge({
      name: 'hng_subscriptions',
      help: 'Open GraphQL subscriptions, by transport.',
      labelNames: ['transport'],
      registers,
    });
    for (const transport of ['ws', 'sse'] as const) this.subscriptions.set({ transport }, 0);
    new Gauge({
      name: 'hng_connections',
      help: 'Open WebSockets (ws) and SSE streams (sse).',
      labelNames: ['transport'],
      registers,
      collect() {
        for (const transport of ['ws', 'sse'] as const) this.set({ transport }, sources.sessions(transport));
      },
    });
    this.acknowledgements = new Counter({
      name: 'hng_acknowledgements_total',
      help: 'Acknowledgements of build_finished occurrences answered, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.webhookAttempts = new Counter({
      name: 'hng_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by webhook and outcome: delivered, retry (failed, tried again later) or dead (failed, no attempt left).',
      labelNames: ['webhook', 'outcome'],
      registers,
    });
    this.webhookLatency = new Histogram({
      name: 'hng_webhook_attempt_duration_seconds',
      help: "Seconds from a webhook request's start to its answer (or its failure), by webhook.",
      labelNames: ['webhook'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: 'hng_recording',
      help: 'Whether this instance records the journal (1) or not (0).',
      labelNames: ['instance'],
      registers,
      collect() {
        this.set({ instance: sources.instance }, sources.recording() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'hng_journal_position',
      help: "The journal position this instance's reader has published through.",
      registers,
      collect() {
        this.set(sources.readerPosition());
      },
    });
    new Gauge({
      name: 'hng_listener_connected',
      help: 'Whether the LISTEN connection is up (1) or not (0).',
      registers,
      collect() {
        this.set(sources.listener().connected ? 1 : 0);
      },
    });
    new Counter({
      name: 'hng_listener_reconnects_total',
      help: 'LISTEN connections re-established after a loss.',
      registers,
      collect: mirror(() => sources.listener().reconnects),
    });
    new Gauge({
      name: 'hng_listener_paused',
      help: 'Whether the LISTEN connection is paused (1): notifications wait in Postgres until the journal catches up.',
      registers,
      collect() {
        this.set(sources.listener().paused ? 1 : 0);
      },
    });
    new Counter({
      name: 'hng_listener_pauses_total',
      help: 'Times the LISTEN connection was paused because notifications came faster than they were journaled.',
      registers,
      collect: mirror(() => sources.listener().pauses),
    });
    new Gauge({
      name: 'hng_listener_backlog',
      help: 'Notifications this instance heard that it does not know to be journaled yet.',
      registers,
      collect() {
        this.set(sources.backlog());
      },
    });
    new Counter({
      name: 'hng_slow_consumer_total',
      help: 'Subscriptions ended with SLOW_CONSUMER.',
      registers,
      collect: mirror(sources.overflows),
    });
    new Counter({
      name: 'hng_build_finished_recovered_total',
      help: "build_finished read back from Hydra's table after a gap (source RECOVERED), published.",
      registers,
      collect: mirror(() => stats().recovered),
    });
    new Counter({
      name: 'hng_journal_gaps_total',
      help: 'Gaps (windows no instance listened) published.',
      registers,
      collect: mirror(() => stats().gaps),
    });
  }

  /** A notification of one of Hydra's channels was received on the LISTEN connection. */
  heard(channel: string): void {
    this.notifyEvent.inc({ channel });
    this.eventReceived.inc();
  }

  /** The live pipeline published `event` to subscribers (just now). */
  published(event: GatewayEvent): void {
    if (event.channel === 'gap') return;
    this.runtime.observe({ channel: event.channel }, this.since(event.receivedAt));
  }

  /** An acknowledgement call answered these outcomes. */
  acknowledged(results: readonly { outcome: string }[]): void {
    for (const { outcome } of results) this.acknowledgements.inc({ outcome });
  }

  /** A webhook attempt ended with `outcome` after `latencyMs`. */
  webhookAttempt(webhook: string, outcome: string, latencyMs: number): void {
    this.webhookAttempts.inc({ webhook, outcome });
    this.webhookLatency.observe({ webhook }, latencyMs / 1_000);
  }

  /** A subscription started on `transport`. */
  subscribed(transport: MetricsTransport): void {
    this.subscriptions.inc({ transport });
  }

  /** A subscription on `transport` ended. */
  unsubscribed(transport: MetricsTransport): void {
    this.subscriptions.dec({ transport });
  }

  /** A subscription's result carrying `event` is being written to `transport`. */
  delivered(event: DeliveredEvent, transport: MetricsTransport): void {
    this.deliveries.inc({ channel: event.channel, transport });
    if (event.live) this.lag.observe({ transport }, this.since(event.receivedAt));
  }

  /** The text of `/metrics`, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    const database = databaseMetrics(await this.snapshot(), this.sources.readerPosition());
    const registry = Registry.merge([processMetrics(), this.registry, database]);
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  private since(at: Date): number {
    return Math.max(0, (this.sources.databaseNow() - at.getTime()) / 1000);
  }

  private snapshot(): Promise<DatabaseSnapshot | null> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < (this.sources.cacheMs ?? 5_000)) return this.cached.snapshot;
    const snapshot = this.sources.snapshot().then(
      (value) => {
        if (this.failing) this.sources.log.info('metrics: reading the database works again');
        this.failing = false;
        return value;
      },
      (error: Error) => {
        if (!this.failing) this.sources.log.warn('metrics: could not read the journal and backlogs', { error: error.message });
        this.failing = true;
        return null;
      },
    );
    this.cached = { at: now, snapshot };
    return snapshot;
  }
}

/**
 * The gauges of what only the database knows, made afresh for each answer
 * from the snapshot it serves: a value the snapshot lacks (it could not be
 * read, the journal is empty, no recorder ever ran) is left out, never shown
 * as 0. `hng_database_up` says whether the snapshot could be read.
 */
function databaseMetrics(snapshot: DatabaseSnapshot | null, readerPosition: number): Registry {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, value: number | null) => {
    if (value !== null) new Gauge({ name, help, registers }).set(value);
  };
  gauge('hng_database_up', 'Whether the last read of the journal and backlogs for /metrics succeeded (1) or not (0).', snapshot ? 1 : 0);
  if (!snapshot) return registry;
  const { journal, consumers } = snapshot;
  gauge('hng_journal_head_position', "The journal's highest position (max(position)).", journal.head);
  gauge(
    'hng_journal_lag',
    "Journal rows this instance's reader has not published yet (head minus its position).",
    Math.max(0, journal.head - readerPosition),
  );
  gauge(
    'hng_journal_newest_age_seconds',
    "Seconds since the journal's newest row was received.",
    journal.newestAgeSeconds === null ? null : Math.max(0, journal.newestAgeSeconds),
  );
  gauge(
    'hng_recorder_heartbeat_age_seconds',
    "Seconds since the recorder's last heartbeat (it beats every HNG_HEARTBEAT_MS while an instance records).",
    journal.heartbeatAgeSeconds === null ? null : Math.max(0, journal.heartbeatAgeSeconds),
  );
  gauge(
    'hng_notify_queue_usage',
    "The fraction (0 to 1) of Postgres's notification queue in use: a listener that stops reading holds it; when full, NOTIFY fails, Hydra's too.",
    journal.notifyQueueUsage,
  );
  const perConsumer = (name: string, help: string, value: (c: ConsumerBacklog) => number) => {
    const g = new Gauge({ name, help, labelNames: ['consumer'], registers });
    for (const c of consumers) g.set({ consumer: c.consumer }, value(c));
  };
  perConsumer('hng_consumer_backlog', 'Occurrences a consumer has not acknowledged.', (c) => c.pending);
  perConsumer(
    'hng_consumer_oldest_pending_age_seconds',
    'Seconds since the oldest finish a consumer has not acknowledged (its pendingSince); 0 when none is pending.',
    (c) => c.oldestPendingAgeSeconds ?? 0,
  );
  perConsumer('hng_consumer_paused', 'Whether a consumer is paused (1) or not (0).', (c) => (c.paused ? 1 : 0));
  const perWebhook = (name: string, help: string, value: (w: WebhookBacklog) => number) => {
    const g = new Gauge({ name, help, labelNames: ['webhook'], registers });
    for (const w of snapshot.webhooks) g.set({ webhook: w.webhook }, value(w));
  };
  perWebhook('hng_webhook_backlog', 'Deliveries a webhook has waiting (to be attempted or retried).', (w) => w.pending);
  perWebhook('hng_webhook_journal_behind', "Journal positions after a webhook's cursor it has not read yet.", (w) => w.behind);
  perWebhook(
    'hng_webhook_oldest_pending_age_seconds',
    "Seconds since a webhook's oldest waiting delivery was made; 0 when none waits.",
    (w) => w.oldestPendingAgeSeconds ?? 0,
  );
  perWebhook('hng_webhook_dead', 'Deliveries of a webhook that are dead (no attempt left), until redelivered or pruned.', (w) => w.dead);
  perWebhook('hng_webhook_active', 'Whether a webhook is active (1) or disabled (0).', (w) => (w.active ? 1 : 0));
  return registry;
}
