/**
 * What a scenario is and what it may use. A scenario measures a group of
 * figures and records them in `ctx.results`; the orchestrator runs the
 * scenarios one after the other (never two at once: they would share the two
 * cores) and turns their records into the table and the JSON report.
 *
 * Adding one (say, webhook deliveries per second to a fast local endpoint):
 * write `scenarios/<name>.ts` exporting a `Scenario`, start what it needs
 * through `ctx` (a server on a fresh database, the notifier, client
 * processes), record `Measurement`s with `subject` and `run`, and list it in
 * `scenarios/index.ts`. `--only=<name>` then runs it alone.
 */
import type { Plan } from '../plan.js';
import type { Results } from '../report.js';
import type { ServerHandle, ServerKind } from '../servers/launch.js';
import type { BenchPostgres } from '../support/postgres.js';

/** A server under test on a database of its own. */
export interface ServerOnDatabase {
  server: ServerHandle;
  /** The database's name and connection string. */
  database: string;
  databaseUrl: string;
  /** Stops the server (the database stays until the run ends, for inspection). */
  stop(): Promise<void>;
}

/** What the orchestrator gives every scenario. */
export interface BenchContext {
  plan: Plan;
  postgres: BenchPostgres;
  results: Results;
  /** Where child processes write their logs. */
  logDir: string;
  /** The seeded fan-out template database (Hydra's schema, `plan.fanout.builds` queued builds). */
  fanoutTemplate(): Promise<string>;
  /**
   * The one database the gateway-alone scenarios share (Hydra's schema,
   * `plan.history.builds` builds; its journal grows scenario by scenario).
   */
  historyDatabase(): Promise<string>;
  /** Starts `kind` on a fresh clone of `template` (or on database `existing`). */
  startServer(kind: ServerKind, label: string, from: { template: string } | { existing: string }): Promise<ServerOnDatabase>;
  /** Records a warning in the report and on stderr. */
  warn(message: string): void;
  /**
   * Waits (within the plan's limits) until other processes leave the machine
   * quiet; call it right before a measured phase, while the bench is idle.
   */
  quiet(): Promise<void>;
}

/** A group of figures. */
export interface Scenario {
  /** For `--only`. */
  name: string;
  /** One line for the progress log. */
  title: string;
  run(ctx: BenchContext): Promise<void>;
}
