/**
 * The command: `npm start`. Reads the configuration; without DATABASE_URL it
 * starts the embedded Postgres with a Hydra-compatible schema and (unless
 * HNG_SIMULATOR=off) the simulated Hydra; then it starts the gateway.
 *
 * Contract:
 * - Every start-up failure is printed as one plain message that says what is
 *   wrong and what to do, after whatever had started is stopped, and the
 *   process exits 1.
 * - SIGTERM, SIGINT and SIGHUP stop it. The gateway (it stops accepting,
 *   journals what the recorder holds, ends every WebSocket with 1001 and every
 *   SSE stream, releases leases and the recorder lock, closes its pool) and
 *   the simulator stop side by side, then the embedded Postgres, which they
 *   both use. Every step runs even if another failed. The process exits 0
 *   when every step succeeded, and 1 when one failed or when they have not
 *   finished within HNG_SHUTDOWN_GRACE_MS: then the embedded Postgres gets an
 *   immediate shutdown, and nothing is left running.
 * - A signal during start-up waits for the start-up to settle, then stops
 *   what it started, within the same grace period. Further signals while
 *   stopping are logged and ignored: npm relays the terminal's Ctrl-C to the
 *   process that already got it, so one press can arrive twice.
 * - Shutdown is quiet: the database stops last, so nothing the gateway or the
 *   simulator holds sees it go away.
 */
import pg from 'pg';
import { type Config, ConfigError, loadConfig } from './config.js';
import { type EmbeddedDatabase, EmbeddedPostgresError, startEmbeddedPostgres } from './db/embedded.js';
import { type Gateway, StartupError, startGateway } from './gateway.js';
import { installHydraSchema } from './hydra/install.js';
import { createLog, type Log } from './log.js';
import { type Simulator, startSimulator } from './simulator/simulator.js';

/** What this process started: each is null until it has started. */
interface Running {
  embedded: EmbeddedDatabase | null;
  gateway: Gateway | null;
  simulatorPool: pg.Pool | null;
  simulator: Simulator | null;
}

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLog(config.logLevel, undefined, { format: config.logFormat });
  const running: Running = { embedded: null, gateway: null, simulatorPool: null, simulator: null };
  let stopping = false;
  let startup: Promise<void> = Promise.resolve();

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return log.info('already shutting down', { signal });
    stopping = true;
    log.info('shutting down', { signal });
    void stopWithin(config.shutdownGraceMs, running, log, startup).then((clean) => {
      log.info(clean ? 'stopped' : 'stopped, with errors');
      process.exit(clean ? 0 : 1);
    });
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);

  startup = start(config, log, running, () => stopping);
  try {
    await startup;
  } catch (error) {
    // Stopping already (a signal came during start-up): that shutdown reports.
    if (stopping) return;
    stopping = true;
    await stopWithin(config.shutdownGraceMs, running, log, Promise.resolve(), () => report(error));
    throw error;
  }
  if (!stopping) {
    const url = running.gateway!.url;
    log.info(`open ${url.replace(/graphql$/, '')} in a browser for the dashboard, ${url} in a browser for GraphiQL`);
  }
}

/** Starts the database (if embedded), the gateway and the simulator, noting each in `running`. */
async function start(config: Config, log: Log, running: Running, stopping: () => boolean): Promise<void> {
  let connectionString = config.databaseUrl;
  if (!connectionString) {
    running.embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      database: 'hydra',
      log: log.child({ component: 'embedded-postgres' }),
    }).catch((error: unknown) => {
      throw embeddedFailure(error, config);
    });
    connectionString = running.embedded.connectionString;
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      if (await installHydraSchema(client)) log.info('created a Hydra-compatible schema in the embedded database');
    } finally {
      await client.end();
    }
    // The logger masks the URL's password.
    log.info('embedded postgres ready', { url: connectionString, postgresPid: running.embedded.pid });
  }
  if (stopping()) return;

  running.gateway = await startGateway({
    connectionString,
    host: config.host,
    port: config.port,
    log,
    poolSize: config.poolSize,
    chunkWindowMs: config.chunkWindowMs,
    subscriberQueueLimit: config.subscriberQueueLimit,
    subscriberMaxLagMs: config.subscriberMaxLagMs,
    subscriberMaxBufferedBytes: config.subscriberMaxBufferedBytes,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    listenerProbeMs: config.listenerProbeMs,
    retentionMs: config.retentionMs,
    mode: config.mode,
    visibilityTimeoutMs: config.visibilityTimeoutMs,
    instance: config.instance,
    lockRetryMs: config.recorderRetryMs,
    reconnectGraceMs: config.recorderGraceMs,
    heartbeatMs: config.heartbeatMs,
    anonymous: config.anonymous,
    corsOrigins: config.corsOrigins,
    allowedHosts: config.allowedHosts?.includes('*') ? '*' : (config.allowedHosts ?? undefined),
    webhooks: {
      schedule: config.webhooks.retrySchedule,
      timeoutMs: config.webhooks.timeoutMs,
      disableAfterMs: config.webhooks.disableAfterMs,
      concurrency: config.webhooks.concurrency,
      leaseMs: config.webhooks.leaseMs,
    },
    limits: {
      ...config.limits,
      maxMessageBytes: config.limits.maxWsMessageBytes,
      maxPendingPerAddress: config.limits.maxPendingSocketsPerAddress,
    },
  });
  if (stopping() || !running.embedded || !config.simulator) return;

  const simulatorPool = new pg.Pool({ connectionString, max: 2, application_name: 'hydra-simulator' });
  running.simulatorPool = simulatorPool;
  // Idle connections the pool has not closed yet see the database stop: expected while stopping.
  simulatorPool.on('error', (error) => (stopping() ? log.debug : log.warn)('simulator connection lost', { error: error.message }));
  running.simulator = await startSimulator(simulatorPool, {
    evalIntervalMs: config.simulatorEvalMs,
    runnerIntervalMs: config.simulatorRunnerMs,
    log: (message, fields) => log.debug(`simulator: ${message}`, fields),
  });
  log.info('simulating Hydra activity (HNG_SIMULATOR=off to stop it)');
}

/** The operator's message for a failed start of the embedded Postgres: what is wrong, then what to do. */
function embeddedFailure(error: unknown, config: Config): StartupError {
  if (!(error instanceof EmbeddedPostgresError)) {
    return new StartupError(`cannot start the embedded Postgres in ${config.dataDir}: ${describe(error)}`);
  }
  switch (error.reason) {
    case 'in-use':
      return new StartupError(
        `${error.message}: stop that one first, or give this one its own HNG_DATA_DIR, HNG_EMBEDDED_PG_PORT and PORT`,
      );
    case 'port-in-use':
      return new StartupError(
        `${error.message} (another Postgres, or another program?): stop that, or set HNG_EMBEDDED_PG_PORT to a free port`,
      );
    default:
      return new StartupError(error.message);
  }
}

/**
 * Waits for `startup` to settle, then stops everything in `running` (see the
 * contract); resolves whether every step succeeded. Past `graceMs` it logs
 * what it still waits for, shuts the embedded Postgres down at once and exits 1.
 */
async function stopWithin(
  graceMs: number,
  running: Running,
  log: Log,
  startup: Promise<void>,
  beforeForcedExit?: () => void,
): Promise<boolean> {
  const pending = new Set<string>(['start-up']);
  const deadline = setTimeout(() => {
    log.error(`shutdown did not finish within ${graceMs} ms (HNG_SHUTDOWN_GRACE_MS); exiting now`, { waitingFor: [...pending].join(', ') });
    running.embedded?.kill();
    beforeForcedExit?.();
    process.exit(1);
  }, graceMs);
  await startup.catch(() => undefined);
  pending.delete('start-up');

  let clean = true;
  const step = async (name: string, stop: () => Promise<unknown> | undefined) => {
    pending.add(name);
    try {
      await stop();
    } catch (error) {
      clean = false;
      log.error(`could not stop the ${name}`, { error: describe(error) });
    } finally {
      pending.delete(name);
    }
  };
  await Promise.all([
    step('gateway', () => running.gateway?.close()),
    (async () => {
      await step('simulator', () => running.simulator?.stop());
      await step('simulator pool', () => running.simulatorPool?.end());
    })(),
  ]);
  // Last: everything above used it.
  await step('embedded postgres', () => running.embedded?.stop());
  clearTimeout(deadline);
  return clean;
}

function describe(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(describe).join('; ');
  return error instanceof Error ? error.message : String(error);
}

/** Prints a start-up failure: one plain line for the expected ones, the stack for the rest. */
function report(error: unknown): void {
  if (error instanceof ConfigError || error instanceof StartupError) {
    process.stderr.write(`hydra-notify-gateway: ${error.message}\n`);
  } else {
    process.stderr.write(`hydra-notify-gateway: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`);
  }
}

main().catch((error: unknown) => {
  report(error);
  process.exit(1);
});
