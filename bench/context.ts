/**
 * The orchestrator's implementation of `BenchContext`: seeded databases made
 * once per run and on first use, servers under test each on a database of
 * its own, and a record of every server started (for the gateway's pg
 * deprecation warning tally).
 *
 * Contract: template and history databases are seeded lazily, so `--only`
 * pays only for what it uses. A server's database is a clone of a template
 * (empty journal) or an existing database; it is dropped after the server
 * stops. Stopping a server that is still busy (a backlog of deliveries) kills
 * it rather than waiting for it to drain.
 */
import { availableParallelism } from 'node:os';
import pg from 'pg';
import type { Plan } from './plan.js';
import type { Results } from './report.js';
import { launchServer, type ServerHandle } from './servers/launch.js';
import type { BenchContext, ServerOnDatabase } from './scenarios/scenario.js';
import type { BenchPostgres } from './support/postgres.js';
import { progress, warn } from './support/progress.js';
import { makePending, seedHydra } from './support/seed.js';
import { QuietGate } from './support/load.js';
import { settle } from './support/settle.js';
import { timeStep } from './support/steps.js';

/** A `BenchContext` plus what the orchestrator reads back at the end. */
export interface OrchestratorContext extends BenchContext {
  /** Every server started in this run, in order. */
  readonly launched: ServerHandle[];
  /** ms spent waiting for a quiet machine. */
  readonly quietWaitedMs: number;
  /** Waits for quiet that found it, that gave up, and phases that found the budget spent. */
  readonly quietWaits: { quiet: number; timedOut: number; budgetSpent: number };
}

/** Makes the context of one run. */
export function createContext(plan: Plan, postgres: BenchPostgres, results: Results, logDir: string): OrchestratorContext {
  const launched: ServerHandle[] = [];
  const once = <T>(make: () => Promise<T>) => {
    let made: Promise<T> | null = null;
    return () => (made ??= make());
  };
  let serial = 0;
  const gate = new QuietGate(availableParallelism(), plan.quiet.perWaitSeconds * 1000, plan.quiet.budgetSeconds * 1000);
  return {
    plan,
    postgres,
    results,
    logDir,
    launched,
    fanoutTemplate: once(async () => {
      const name = 'bench_fanout';
      progress(`seeding ${name}: ${plan.fanout.builds.toLocaleString('en-US')} builds`);
      await timeStep('seed the fan-out template', async () => {
        await postgres.createDatabase(name);
        await seedHydra(postgres.url(name), plan.fanout.builds);
      });
      return name;
    }),
    historyDatabase: once(async () => {
      const name = 'bench_history';
      progress(
        `seeding ${name}: ${plan.history.builds.toLocaleString('en-US')} builds, ${plan.history.pending.toLocaleString('en-US')} pending`,
      );
      await timeStep('seed the history database', async () => {
        await postgres.createDatabase(name);
        await seedHydra(postgres.url(name), plan.history.builds, (done) => progress(`  ${done.toLocaleString('en-US')} builds`));
        await makePending(postgres.url(name), 1, plan.history.pending);
        const client = new pg.Client({ connectionString: postgres.url(name), application_name: 'bench-admin' });
        await client.connect();
        await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
        await client.end();
      });
      return name;
    }),
    async startServer(kind, label, from): Promise<ServerOnDatabase> {
      const database = 'template' in from ? `b${++serial}_${label.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`.slice(0, 60) : from.existing;
      if ('template' in from) await timeStep('clone a database', () => postgres.createDatabase(database, from.template));
      const databaseUrl = postgres.url(database);
      const server = await timeStep(`start a server (${kind})`, () => launchServer(kind, databaseUrl, logDir, label)).catch(
        async (error: Error) => {
          if ('template' in from) await postgres.dropDatabase(database).catch(() => {});
          throw error;
        },
      );
      launched.push(server);
      return {
        server,
        database,
        databaseUrl,
        async stop() {
          await timeStep(`stop a server (${kind})`, async () => {
            if (server.running && !(await settle(server.pid, { capMs: 1_000 }))) {
              progress(`  ${label}: still busy, killed rather than drained`);
              await server.kill();
            } else await server.stop();
          });
          if ('template' in from) await timeStep('drop a database', () => postgres.dropDatabase(database));
        },
      };
    },
    warn(message) {
      warn(message);
      results.warning(message);
    },
    async quiet() {
      await timeStep('wait for a quiet machine', () =>
        gate.wait((busy) => progress(`  waiting for a quieter machine (others keep ${busy.toFixed(2)} cores busy)`)),
      );
    },
    get quietWaitedMs() {
      return gate.spent;
    },
    get quietWaits() {
      return gate.waits;
    },
  };
}
