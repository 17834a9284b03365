/**
 * The gateway's configuration, read once from the environment.
 *
 * Contract: `loadConfig` parses `process.env` (or any record) with one zod
 * schema into one typed, frozen object. Every problem is reported at once in
 * a `ConfigError` listing each variable, what it expected and what it got;
 * `main.ts` prints it and exits non-zero. Nothing else in the gateway reads
 * `process.env`. The README's configuration table mirrors `VARIABLES`.
 */
import { z } from 'zod';

const flag = z.enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no']).transform((v) => ['1', 'true', 'on', 'yes'].includes(v));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A comma-separated list of `item`s (blanks dropped). */
const list = (item: z.ZodString) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));

/** A web origin: scheme, host and optional port, nothing else. */
const origin = z.string().regex(/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, 'origins like https://dashboard.example.org, no path');

/** Every variable the gateway reads, with its default; the README documents each. */
export const VARIABLES = z.object({
  /** A real Hydra's database (`postgres://` or `postgresql://`). Unset: an embedded Postgres with a simulated Hydra. */
  DATABASE_URL: z
    .url({
      protocol: /^postgres(ql)?$/,
      error: "must be a postgres:// or postgresql:// URL of Hydra's database, e.g. postgres://hydra@db.example.org/hydra",
    })
    .optional(),
  /** @default 4000 */
  PORT: int(0, 65535).default(4000),
  /** @default '127.0.0.1' */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Folder for the embedded Postgres data. @default '.data' */
  HNG_DATA_DIR: z.string().min(1).default('.data'),
  /** @default 54329 */
  HNG_EMBEDDED_PG_PORT: int(1, 65535).default(54329),
  /** Simulated Hydra activity on the embedded database. @default on */
  HNG_SIMULATOR: flag.default(true),
  /** Milliseconds between the simulated evaluator's runs. @default 3_000 */
  HNG_SIMULATOR_EVAL_MS: int(10, 3_600_000).default(3_000),
  /** Milliseconds between the simulated queue runner's runs. @default 1_000 */
  HNG_SIMULATOR_RUNNER_MS: int(10, 3_600_000).default(1_000),
  /** Smallest reconnect delay of the LISTEN connection. @default 250 */
  HNG_RECONNECT_MIN_MS: int(1, 60_000).default(250),
  /** Largest reconnect delay of the LISTEN connection. @default 15_000 // 15 seconds */
  HNG_RECONNECT_MAX_MS: int(1, 600_000).default(15_000),
  /** How often the LISTEN connection is probed with a query. @default 10_000 // 10 seconds */
  HNG_LISTENER_PROBE_MS: int(100, 600_000).default(10_000),
  /** How long a build_finished waits for further chunks of the same payload. @default 50 */
  HNG_CHUNK_WINDOW_MS: int(0, 5_000).default(50),
  /** Events waiting for one subscription before it ends with SLOW_CONSUMER. @default 200_000 */
  HNG_SUBSCRIBER_QUEUE_LIMIT: int(1, 10_000_000).default(200_000),
  /** Age of the oldest event waiting for a subscription before it ends with SLOW_CONSUMER. @default 60_000 // 1 minute */
  HNG_SUBSCRIBER_MAX_LAG_MS: int(100, 3_600_000).default(60_000),
  /** Bytes a subscription's connection may hold unsent (the client not reading) before SLOW_CONSUMER. @default 8_388_608 // 8 MiB */
  HNG_SUBSCRIBER_MAX_BUFFERED_BYTES: int(1_024, 1_073_741_824).default(8_388_608),
  /** Days the journal keeps events (fractions allowed). @default 30 */
  HNG_RETENTION_DAYS: z.coerce.number().positive().max(36_500).default(30),
  /** Who clears Hydra's notificationpendingsince: `owner` (the gateway) or `observer` (hydra-notify still runs). @default 'owner' */
  HNG_MODE: z.enum(['owner', 'observer']).default('owner'),
  /** How long a consumer's delivery waits for its acknowledgement before it is delivered again. @default 60_000 */
  HNG_VISIBILITY_TIMEOUT_MS: int(100, 86_400_000).default(60_000),
  /** This instance's name in the journal (`recorded_by`). @default host:pid:random */
  HNG_INSTANCE: z
    .string()
    .regex(/^[\w.:@-]{1,100}$/, 'letters, digits and . : @ _ - only, at most 100')
    .optional(),
  /** How often an instance that does not record tries to take over. @default 1_000 */
  HNG_RECORDER_RETRY_MS: int(10, 600_000).default(1_000),
  /** How long an instance whose LISTEN connection came back waits before trying to record. @default 3_000 */
  HNG_RECORDER_GRACE_MS: int(0, 600_000).default(3_000),
  /** The recorder's heartbeat. @default 2_000 */
  HNG_HEARTBEAT_MS: int(10, 600_000).default(2_000),
  /** How long a stop (SIGTERM, SIGINT, SIGHUP) may take before the process exits anyway, non-zero. @default 10_000 // 10 seconds */
  HNG_SHUTDOWN_GRACE_MS: int(100, 600_000).default(10_000),
  /** Size of the query pool (the LISTEN connection is separate). @default 10 */
  HNG_POOL_SIZE: int(1, 1_000).default(10),
  /** `debug`, `info`, `warn` or `error`. @default 'info' */
  HNG_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** `json` (one object a line), `pretty` (for a person), or `auto`: pretty when stderr is a terminal, JSON otherwise. @default 'auto' */
  HNG_LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  /** What clients without a token may do: `none` or `read`. @default 'read' with the embedded database, 'none' with DATABASE_URL */
  HNG_ANONYMOUS: z.enum(['none', 'read']).optional(),
  /** Origins (scheme://host[:port]) whose pages may call the gateway, comma-separated. @default '' // none */
  HNG_CORS_ORIGINS: list(origin).default([]),
  /** Host names the gateway answers to (DNS-rebinding guard), comma-separated; `*` for any. @default loopback names, HOST and this machine's name */
  HNG_ALLOWED_HOSTS: list(z.string().regex(/^(\*|[A-Za-z0-9.:[\]-]{1,255})$/, 'host names, or *')).optional(),
  /** Deepest selection a document may have. @default 12 */
  HNG_MAX_DEPTH: int(1, 1_000).default(12),
  /** Largest cost a document may have (GraphQL Armor's: objects 2, scalars 1, ×1.5 a level, × a list's `first`). @default 50_000 */
  HNG_MAX_COST: int(1, 100_000_000).default(50_000),
  /** Most aliases in one document. @default 30 */
  HNG_MAX_ALIASES: int(0, 100_000).default(30),
  /** Most directives in one document. @default 50 */
  HNG_MAX_DIRECTIVES: int(0, 100_000).default(50),
  /** Most tokens (names, punctuation, values) in one document. @default 5_000 */
  HNG_MAX_TOKENS: int(10, 10_000_000).default(5_000),
  /** Largest HTTP request body, in bytes. @default 1_048_576 // 1 MiB */
  HNG_MAX_BODY_BYTES: int(1_024, 1_073_741_824).default(1_048_576),
  /** Largest WebSocket message, in bytes. @default 1_048_576 // 1 MiB */
  HNG_MAX_WS_MESSAGE_BYTES: int(1_024, 1_073_741_824).default(1_048_576),
  /** Most items of one acknowledgeBuildsFinished. @default 1_000 */
  HNG_MAX_ACK_BATCH: int(1, 100_000).default(1_000),
  /** Most subscriptions one WebSocket may hold. @default 100 */
  HNG_MAX_SUBSCRIPTIONS_PER_SOCKET: int(1, 100_000).default(100),
  /** Most WebSockets one token (or one anonymous address) may hold. @default 100 */
  HNG_MAX_SOCKETS_PER_TOKEN: int(1, 1_000_000).default(100),
  /** Most SSE streams one token (or one anonymous address) may hold. @default 100 */
  HNG_MAX_SSE_STREAMS_PER_TOKEN: int(1, 1_000_000).default(100),
  /** How long a WebSocket may wait before its connection_init. @default 3_000 */
  HNG_CONNECTION_INIT_TIMEOUT_MS: int(100, 600_000).default(3_000),
  /** Most WebSockets from one address still waiting for their connection_init. @default 50 */
  HNG_MAX_PENDING_SOCKETS_PER_ADDRESS: int(1, 1_000_000).default(50),
  /** Delays before a failed webhook delivery is tried again (the n-th after the n-th failure, ±20 % jitter); after the last it is dead. @default '5s,30s,2m,10m,30m,1h,2h,4h,8h,12h' */
  HNG_WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .default('5s,30s,2m,10m,30m,1h,2h,4h,8h,12h')
    .transform((text, ctx) => {
      const delays = parseSchedule(text);
      if (typeof delays === 'string') ctx.addIssue({ code: 'custom', message: delays });
      return typeof delays === 'string' ? z.NEVER : delays;
    }),
  /** The deadline of one webhook request. @default 10_000 */
  HNG_WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000),
  /** How long every attempt of a webhook may fail before it is disabled. @default 432_000_000 (5 days) */
  HNG_WEBHOOK_DISABLE_AFTER_MS: int(1_000, 31 * 86_400_000).default(432_000_000),
  /** Webhook requests at once on one instance, all webhooks together. @default 32 */
  HNG_WEBHOOK_CONCURRENCY: int(1, 1_024).default(32),
  /** How long an instance holds a webhook without renewing; another takes over after. @default 30_000 */
  HNG_WEBHOOK_LEASE_MS: int(1_000, 600_000).default(30_000),
});

/** The parsed configuration. */
export interface Config {
  databaseUrl: string | undefined;
  port: number;
  host: string;
  dataDir: string;
  embeddedPgPort: number;
  simulator: boolean;
  simulatorEvalMs: number;
  simulatorRunnerMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  listenerProbeMs: number;
  chunkWindowMs: number;
  subscriberQueueLimit: number;
  subscriberMaxLagMs: number;
  subscriberMaxBufferedBytes: number;
  poolSize: number;
  retentionMs: number;
  mode: 'owner' | 'observer';
  visibilityTimeoutMs: number;
  instance: string | undefined;
  recorderRetryMs: number;
  recorderGraceMs: number;
  heartbeatMs: number;
  shutdownGraceMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  logFormat: 'auto' | 'json' | 'pretty';
  anonymous: 'none' | 'read';
  corsOrigins: string[];
  /** Null: the default list (loopback names, HOST, this machine's name). */
  allowedHosts: string[] | null;
  webhooks: {
    /** The delays before each retry, in milliseconds. */
    retrySchedule: number[];
    timeoutMs: number;
    disableAfterMs: number;
    concurrency: number;
    leaseMs: number;
  };
  limits: {
    maxDepth: number;
    maxCost: number;
    maxAliases: number;
    maxDirectives: number;
    maxTokens: number;
    maxBodyBytes: number;
    maxWsMessageBytes: number;
    maxAckBatch: number;
    maxSubscriptionsPerSocket: number;
    maxSocketsPerToken: number;
    maxSseStreamsPerToken: number;
    connectionInitTimeoutMs: number;
    maxPendingSocketsPerAddress: number;
  };
}

const DELAY_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A schedule like `5s,30s,2m,1h` in milliseconds, or what is wrong with it. */
function parseSchedule(text: string): number[] | string {
  const delays: number[] = [];
  for (const entry of text.split(',')) {
    const match = /^\s*(\d+(?:\.\d+)?)(ms|s|m|h|d)\s*$/.exec(entry);
    if (!match) return `not a delay: ${JSON.stringify(entry)} (write delays like 5s,30s,2m,1h; units ms, s, m, h, d)`;
    const ms = Math.round(Number(match[1]) * DELAY_UNITS[match[2]!]!);
    if (ms <= 0) return `a delay must be at least 1 ms, got ${JSON.stringify(entry.trim())}`;
    delays.push(ms);
  }
  return delays;
}

/** Every configuration problem found, one line each. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** A value as an error may print it: a URL's password never is. */
function shown(name: string, value: string | undefined): string | undefined {
  return name === 'DATABASE_URL' ? value?.replace(/^([^:/]+:\/\/[^:@/]*:)[^@/]*@/, '$1***@') : value;
}

/**
 * Parses the environment into a `Config`.
 * @throws ConfigError listing every invalid variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const blank = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = VARIABLES.safeParse(blank);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map(
        (i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(shown(String(i.path[0]), blank[String(i.path[0])]))})`,
      ),
    );
  }
  const v = result.data;
  if (v.HNG_WEBHOOK_LEASE_MS < v.HNG_WEBHOOK_TIMEOUT_MS + 3_000) {
    throw new ConfigError([
      'HNG_WEBHOOK_LEASE_MS: must be at least HNG_WEBHOOK_TIMEOUT_MS + 3000, so that a request always ends within the lease',
    ]);
  }
  if (v.HNG_RECONNECT_MIN_MS > v.HNG_RECONNECT_MAX_MS) {
    throw new ConfigError(['HNG_RECONNECT_MIN_MS: must not exceed HNG_RECONNECT_MAX_MS']);
  }
  return Object.freeze({
    databaseUrl: v.DATABASE_URL,
    port: v.PORT,
    host: v.HOST,
    dataDir: v.HNG_DATA_DIR,
    embeddedPgPort: v.HNG_EMBEDDED_PG_PORT,
    simulator: v.HNG_SIMULATOR,
    simulatorEvalMs: v.HNG_SIMULATOR_EVAL_MS,
    simulatorRunnerMs: v.HNG_SIMULATOR_RUNNER_MS,
    reconnectMinMs: v.HNG_RECONNECT_MIN_MS,
    reconnectMaxMs: v.HNG_RECONNECT_MAX_MS,
    listenerProbeMs: v.HNG_LISTENER_PROBE_MS,
    chunkWindowMs: v.HNG_CHUNK_WINDOW_MS,
    subscriberQueueLimit: v.HNG_SUBSCRIBER_QUEUE_LIMIT,
    subscriberMaxLagMs: v.HNG_SUBSCRIBER_MAX_LAG_MS,
    subscriberMaxBufferedBytes: v.HNG_SUBSCRIBER_MAX_BUFFERED_BYTES,
    poolSize: v.HNG_POOL_SIZE,
    retentionMs: Math.round(v.HNG_RETENTION_DAYS * 86_400_000),
    mode: v.HNG_MODE,
    visibilityTimeoutMs: v.HNG_VISIBILITY_TIMEOUT_MS,
    instance: v.HNG_INSTANCE,
    recorderRetryMs: v.HNG_RECORDER_RETRY_MS,
    recorderGraceMs: v.HNG_RECORDER_GRACE_MS,
    heartbeatMs: v.HNG_HEARTBEAT_MS,
    shutdownGraceMs: v.HNG_SHUTDOWN_GRACE_MS,
    logLevel: v.HNG_LOG_LEVEL,
    logFormat: v.HNG_LOG_FORMAT,
    anonymous: v.HNG_ANONYMOUS ?? (v.DATABASE_URL ? 'none' : 'read'),
    corsOrigins: v.HNG_CORS_ORIGINS,
    allowedHosts: v.HNG_ALLOWED_HOSTS ?? null,
    webhooks: Object.freeze({
      retrySchedule: v.HNG_WEBHOOK_RETRY_SCHEDULE,
      timeoutMs: v.HNG_WEBHOOK_TIMEOUT_MS,
      disableAfterMs: v.HNG_WEBHOOK_DISABLE_AFTER_MS,
      concurrency: v.HNG_WEBHOOK_CONCURRENCY,
      leaseMs: v.HNG_WEBHOOK_LEASE_MS,
    }),
    limits: Object.freeze({
      maxDepth: v.HNG_MAX_DEPTH,
      maxCost: v.HNG_MAX_COST,
      maxAliases: v.HNG_MAX_ALIASES,
      maxDirectives: v.HNG_MAX_DIRECTIVES,
      maxTokens: v.HNG_MAX_TOKENS,
      maxBodyBytes: v.HNG_MAX_BODY_BYTES,
      maxWsMessageBytes: v.HNG_MAX_WS_MESSAGE_BYTES,
      maxAckBatch: v.HNG_MAX_ACK_BATCH,
      maxSubscriptionsPerSocket: v.HNG_MAX_SUBSCRIPTIONS_PER_SOCKET,
      maxSocketsPerToken: v.HNG_MAX_SOCKETS_PER_TOKEN,
      maxSseStreamsPerToken: v.HNG_MAX_SSE_STREAMS_PER_TOKEN,
      connectionInitTimeoutMs: v.HNG_CONNECTION_INIT_TIMEOUT_MS,
      maxPendingSocketsPerAddress: v.HNG_MAX_PENDING_SOCKETS_PER_ADDRESS,
    }),
  });
}
