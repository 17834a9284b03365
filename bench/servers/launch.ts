/**
 * Starting a server under test in its own process, from the orchestrator.
 *
 * Contract: `launchServer` forks `servers/<kind>.ts` over a database, waits
 * for its `ready` event (or fails with the child's last output), and returns
 * a handle whose CPU and memory the caller reads from /proc by `pid`. `gc`
 * collects garbage in the server and then reads its RSS from /proc. Each
 * server's output goes to its own log file; for the gateway, lines carrying
 * pg's "already executing a query" deprecation are counted (`deprecations`).
 * Every server runs with `NODE_ENV=production`, as the deploy unit runs the
 * gateway (deploy/hydra-notify-gateway.service): graphql-js then skips its
 * development checks (an `instanceof` test that also compares class names on
 * every failed type test, 1-5 % of a page's CPU), for the gateway and plain
 * yoga alike.
 */
import { join } from 'node:path';
import { rememberToken } from '../clients/credentials.js';
import { type Child, spawnChild } from '../support/children.js';
import { compiledRoot } from '../support/compiled.js';
import { memory } from '../support/proc.js';

/** The servers the fan-out compares. */
export type ServerKind = 'gateway' | 'floor' | 'yoga';

/** pg's warning about queries handed to a busy client. */
export const PG_QUEUE_DEPRECATION = /already executing a query is deprecated/;

/** A running server under test. */
export interface ServerHandle {
  kind: ServerKind;
  name: string;
  pid: number;
  /** `http://127.0.0.1:port/graphql` */
  url: string;
  /** Full collections in the server, then its RSS (bytes) and V8's figures. */
  gc(): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number }>;
  /** How many of its output lines carried pg's deprecation warning. */
  deprecations(): number;
  /** Whether the process is still running. */
  readonly running: boolean;
  stop(): Promise<void>;
  /** SIGKILLs it and waits until it is gone. */
  kill(): Promise<void>;
}

/**
 * `BENCH_PROFILE=gateway` (or `floor`, `yoga`, comma-separated) writes a CPU profile of each such
 * server process into the run's log folder (`<name>-cpuprofile/`, written when the server stops; the main thread's is the largest),
 * for reading in Chrome's DevTools; profiling costs the server some CPU, so such a run's figures
 * are not comparable with others.
 */
function profileFlags(kind: ServerKind, logDir: string, name: string): string[] {
  const kinds = (process.env.BENCH_PROFILE ?? '').split(',');
  if (!kinds.includes(kind)) return [];
  // A folder per server: tsx's loader thread writes a profile of its own beside the main thread's.
  return ['--cpu-prof', `--cpu-prof-dir=${join(logDir, `${name}-cpuprofile`)}`];
}

/**
 * `BENCH_GATEWAY_FLAGS` (space-separated Node or V8 flags, e.g. `--trace-gc` or
 * `--max-semi-space-size=64`) go to each gateway process alone, for experiments; such a run's
 * figures are not those of the gateway as deployed.
 */
function extraFlags(kind: ServerKind): string[] {
  return kind === 'gateway' ? (process.env.BENCH_GATEWAY_FLAGS ?? '').split(' ').filter(Boolean) : [];
}

/** Starts a `kind` server over `databaseUrl`; see the module contract. */
export async function launchServer(
  kind: ServerKind,
  databaseUrl: string,
  logDir: string,
  name: string,
  timeoutMs = 60_000,
): Promise<ServerHandle> {
  const child: Child = spawnChild({
    name,
    entry: `servers/${kind}.ts`,
    env: { BENCH_DATABASE_URL: databaseUrl, NODE_ENV: 'production' },
    logFile: join(logDir, `${name}.log`),
    watch: [PG_QUEUE_DEPRECATION],
    execArgv: [...profileFlags(kind, logDir, name), ...extraFlags(kind)],
    compiled: compiledRoot(),
  });
  try {
    const ready = await child.waitForEvent('ready', timeoutMs);
    if (typeof ready.token === 'string') rememberToken(String(ready.url), ready.token);
    return {
      kind,
      name,
      pid: child.pid,
      url: String(ready.url),
      async gc() {
        const usage = await child.request<NodeJS.MemoryUsage>('gc', {}, 60_000);
        const rss = memory(child.pid)?.rss ?? NaN;
        return { rss, heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers };
      },
      deprecations: () => child.matched(PG_QUEUE_DEPRECATION),
      get running() {
        return child.running;
      },
      stop: () => child.stop(),
      async kill() {
        child.kill();
        await child.exited;
      },
    };
  } catch (error) {
    child.kill();
    throw error;
  }
}
