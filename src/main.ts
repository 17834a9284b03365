/**
 * The command: `npm start`. Reads the configuration; without DATABASE_URL it
 * starts the embedded Postgres with a Hydra-compatible schema and (unless
 * HNG_SIMULATOR=off) the simulated Hydra; then it starts the gateway.
 *
 * Contract: every start-up failure is printed as one plain message that says
 * what is wrong and what to do, and the process exits 1. SIGINT and SIGTERM
 * close the gateway, the simulator and the embedded database in that order,
 * then exit 0.
 */
import pg from 'pg';
import { type Config, ConfigError, loadConfig } from './config.js';
import { type EmbeddedDatabase, EmbeddedPostgresError, startEmbeddedPostgres } from './db/embedded.js';
import { type Gateway, StartupError, startGateway } from './gateway.js';
import { installHydraSchema } from './hydra/install.js';
import { createLog } from './log.js';
import { type Simulator, startSimulator } from './simulator/simulator.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLog(config.logLevel);
  let embedded: EmbeddedDatabase | null = null;
  let simulatorPool: pg.Pool | null = null;
  let simulator: Simulator | null = null;
  let gateway: Gateway | null = null;

  let stopping = false;
  const shutdown = async (signal: string) => {
    stopping = true;
    log.info('shutting down', { signal });
    await gateway?.close();
    await simulator?.stop();
    await simulatorPool?.end();
    await embedded?.stop();
    process.exit(0);
  };
  process.once('SIGINT', (s) => void shutdown(s));
  process.once('SIGTERM', (s) => void shutdown(s));

  let connectionString = config.databaseUrl;
  if (!connectionString) {
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      database: 'hydra',
      log: log.child({ component: 'embedded-postgres' }),
    }).catch((error: unknown) => {
      throw embeddedFailure(error, config);
    });
    connectionString = embedded.connectionString;
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      if (await installHydraSchema(client)) log.info('created a Hydra-compatible schema in the embedded database');
    } finally {
      await client.end();
    }
    log.info('embedded postgres ready', { url: connectionString.replace(/:[^:@/]+@/, ':***@'), pid: embedded.pid });
  }

  try {
    gateway = await startGateway({
      connectionString,
      host: config.host,
      port: config.port,
      log,
      poolSize: config.poolSize,
      chunkWindowMs: config.chunkWindowMs,
      subscriberQueueLimit: config.subscriberQueueLimit,
      subscriberMaxLagMs: config.subscriberMaxLagMs,
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
    });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }

  if (embedded && config.simulator) {
    simulatorPool = new pg.Pool({ connectionString, max: 2, application_name: 'hydra-simulator' });
    // Idle connections the pool has not closed yet see the database stop: expected while stopping.
    simulatorPool.on('error', (error) => (stopping ? log.debug : log.warn)('simulator connection lost', { error: error.message }));
    simulator = await startSimulator(simulatorPool, {
      evalIntervalMs: config.simulatorEvalMs,
      runnerIntervalMs: config.simulatorRunnerMs,
      log: (message, fields) => log.debug(`simulator: ${message}`, fields),
    });
    log.info('simulating Hydra activity (HNG_SIMULATOR=off to stop it)');
  }
  log.info(`open ${gateway.url} in a browser for GraphiQL`);
}

/** The operator's message for a failed start of the embedded Postgres: what is wrong, then what to do. */
function embeddedFailure(error: unknown, config: Config): StartupError {
  if (!(error instanceof EmbeddedPostgresError)) {
    return new StartupError(
      `cannot start the embedded Postgres in ${config.dataDir}: ${error instanceof Error ? error.message : String(error)}`,
    );
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

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof StartupError) {
    process.stderr.write(`hydra-notify-gateway: ${error.message}\n`);
  } else {
    process.stderr.write(`hydra-notify-gateway: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
