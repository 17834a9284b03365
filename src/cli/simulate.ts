/**
 * `hydra-notify-gateway simulate`: Hydra-like activity on a database, at a
 * chosen rate: the simulated evaluator and queue runner of `npm start`
 * (simulator/), with their rows, transactions and notifications.
 *
 * Contract:
 * - The database is DATABASE_URL or the embedded one. It must hold Hydra's
 *   tables; `--install-schema` creates Hydra-compatible ones in a database
 *   that has none (a scratch database). It never runs against tables it did
 *   not find or make, and on DATABASE_URL it says first that it writes
 *   projects, jobsets, evaluations and builds there.
 * - What it sent is counted as Postgres delivers it: a LISTEN connection of
 *   its own hears every Hydra channel, so a count is of committed
 *   notifications. A status line on stderr shows the counts (rewritten in
 *   place at a terminal, every 5 s otherwise).
 * - It stops after `--count` notifications (the transaction in flight ends
 *   first, so a run may pass the count by the rest of it), after
 *   `--duration`, or on SIGINT/SIGTERM (repeats ignored while stopping):
 *   the loops finish their ticks, every notification sent is heard, the
 *   summary is printed (a line on stderr, or `--json` on stdout) and it
 *   exits 0.
 */
import type { Command } from 'commander';
import pg from 'pg';
import { CHANNELS, type Channel } from '../hydra/channels.js';
import { HYDRA_TABLES, installHydraSchema, missingHydraTables } from '../hydra/install.js';
import { seededRandom } from '../simulator/dice.js';
import { startSimulator } from '../simulator/simulator.js';
import { databaseOf, reachHint } from './database.js';
import { CliError } from './errors.js';
import type { CliContext } from './tokens.js';
import { parseCount, parseDuration } from './values.js';

interface SimulateOptions {
  evalEvery: number;
  runnerEvery: number;
  count?: number;
  duration?: number;
  seed?: number;
  installSchema?: boolean;
  json?: boolean;
}

/** Why a run stopped. */
type StoppedBy = 'count' | 'duration' | 'signal';

/** Notifications heard, by channel. */
class Counts {
  readonly byChannel = new Map<Channel, number>();
  total = 0;

  add(channel: Channel): void {
    this.byChannel.set(channel, (this.byChannel.get(channel) ?? 0) + 1);
    this.total++;
  }

  get(channel: Channel): number {
    return this.byChannel.get(channel) ?? 0;
  }

  /** The status line's text. */
  describe(seconds: number): string {
    const rate = seconds > 0 ? (this.total / seconds).toFixed(1) : '0.0';
    return (
      `simulate: ${this.total} notifications in ${seconds.toFixed(0)}s (${rate}/s): ` +
      `${this.get('eval_started')} evaluations, ${this.get('build_queued')} builds queued, ` +
      `${this.get('build_started')} started, ${this.get('build_finished')} finished`
    );
  }
}

/** Registers `simulate` on `program`. */
export function simulateCommand(program: Command, cli: CliContext): void {
  program
    .command('simulate')
    .description('Play Hydra on a database at a chosen rate: evaluations, builds, steps and their notifications, with a progress line')
    .addHelpText(
      'after',
      [
        '',
        "The database is DATABASE_URL's, or the embedded Postgres of a running npm start (run that one with HNG_SIMULATOR=off).",
        "It writes projects, jobsets, evaluations and builds there, as Hydra's evaluator and queue runner would: never point it at a",
        'production Hydra. It stops after --count or --duration, or on Ctrl-C, and prints what it sent.',
        '',
        'Examples:',
        '  hydra-notify-gateway simulate --eval-every 500ms --runner-every 100ms --duration 1m',
        '  DATABASE_URL=postgres://localhost/scratch hydra-notify-gateway simulate --install-schema --count 1000 --json',
      ].join('\n'),
    )
    .option('--eval-every <duration>', 'time between evaluations (500ms, 3s, 1m)', parseDuration, 3_000)
    .option('--runner-every <duration>', 'time between queue-runner steps', parseDuration, 1_000)
    .option('--count <n>', 'stop once this many notifications were sent', parseCount)
    .option('--duration <duration>', 'stop after this long (e.g. 30s, 10m)', parseDuration)
    .option('--seed <n>', 'seed every random choice, for a reproducible run', parseCount)
    .option('--install-schema', "create Hydra-compatible tables first if the database has none (a scratch database, never Hydra's)")
    .option('--json', 'print the summary as JSON on stdout: { notifications, byChannel, seconds, stoppedBy }')
    .action((options: SimulateOptions) => simulate(cli, options));
}

async function simulate(cli: CliContext, options: SimulateOptions): Promise<void> {
  const config = cli.config();
  const { url, where } = databaseOf(config);
  const status = cli.status ?? cli.err;
  const listener = new pg.Client({ connectionString: url, application_name: 'hydra-notify-gateway:simulate' });
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'hydra-notify-gateway:simulate' });
  listener.on('error', () => {});
  pool.on('error', () => {});
  const signals: [NodeJS.Signals, () => void][] = [];
  let progress: NodeJS.Timeout | undefined;
  try {
    try {
      await listener.connect();
    } catch (error) {
      throw new CliError(`cannot reach ${where}: ${(error as Error).message}${reachHint(config)}`);
    }
    await ensureHydraTables(listener, where, options.installSchema === true, cli);
    if (config.databaseUrl)
      cli.err('hydra-notify-gateway: simulating Hydra on DATABASE_URL: this adds projects, jobsets, evaluations and builds to it');

    const counts = new Counts();
    // A channel of this run's own: heard after everything sent before it (one session, commit order).
    const marker = `hng_simulate_${process.pid}_${Date.now()}`;
    let markerHeard = () => {};
    let stop: (why: StoppedBy) => void = () => {};
    const stopped = new Promise<StoppedBy>((resolve) => (stop = resolve));
    listener.on('notification', (n) => {
      if (n.channel === marker) return markerHeard();
      counts.add(n.channel as Channel);
      if (options.count !== undefined && counts.total >= options.count) stop('count');
    });
    await listener.query(`/* simulateListen */ ${[...CHANNELS, marker].map((c) => `LISTEN ${c};`).join(' ')}`);

    const simulator = await startSimulator(pool, {
      evalIntervalMs: options.evalEvery,
      runnerIntervalMs: options.runnerEvery,
      random: options.seed === undefined ? undefined : seededRandom(options.seed),
      log: (message, fields) => {
        if (message.endsWith('tick failed')) cli.err(`hydra-notify-gateway: ${message}: ${String(fields?.error ?? '')}`);
      },
    });
    const started = Date.now();
    const seconds = () => (Date.now() - started) / 1000;
    progress = setInterval(() => status(counts.describe(seconds())), cli.terminal ? 250 : 5_000);
    const duration = options.duration === undefined ? undefined : setTimeout(() => stop('duration'), options.duration);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const handler = () => stop('signal');
      signals.push([signal, handler]);
      process.on(signal, handler);
    }

    const stoppedBy = await stopped;
    clearTimeout(duration);
    clearInterval(progress);
    await simulator.stop();
    // Every notification committed before the marker is heard before it.
    const heard = new Promise<void>((resolve) => (markerHeard = resolve));
    await pool.query('/* simulateMarker */ SELECT pg_notify($1, $2)', [marker, '']);
    let timer: NodeJS.Timeout | undefined;
    // Should the LISTEN connection have gone, the counts stay what was heard.
    await Promise.race([heard, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);

    const summary = counts.describe(seconds());
    if (cli.terminal) status(`${summary}\n`);
    cli.err(`${summary}; stopped by ${stoppedBy === 'signal' ? 'a signal' : stoppedBy === 'count' ? '--count' : '--duration'}`);
    if (options.json)
      cli.out(
        JSON.stringify({
          notifications: counts.total,
          byChannel: Object.fromEntries([...counts.byChannel].sort(([a], [b]) => a.localeCompare(b))),
          seconds: Math.round(seconds() * 10) / 10,
          stoppedBy,
        }),
      );
  } finally {
    clearInterval(progress);
    for (const [signal, handler] of signals) process.off(signal, handler);
    await Promise.allSettled([listener.end(), pool.end()]);
  }
}

/** Checks that the database holds Hydra's tables, creating them with `install` when it holds none of them. */
async function ensureHydraTables(client: pg.Client, where: string, install: boolean, cli: CliContext): Promise<void> {
  const missing = await missingHydraTables(client);
  if (missing.length === 0) return;
  if (!install)
    throw new CliError(
      `${where} has no Hydra tables (${missing.join(', ')} missing): is it Hydra's database? For a scratch database, pass --install-schema to create Hydra-compatible tables`,
    );
  if (missing.length < HYDRA_TABLES.length)
    throw new CliError(`${where} has some of Hydra's tables but not ${missing.join(', ')}: refusing to add tables beside them`);
  await installHydraSchema(client);
  cli.err(`created Hydra-compatible tables in ${where}`);
}
