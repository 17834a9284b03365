/**
 * Gateways as real processes: the start command (test/support/command.ts,
 * `node dist/app/src/main.js`) over a test database, on a free port,
 * ready once `/readyz` answers 200 (not a log line: the log's format is not
 * this helper's to rely on). Killed with SIGKILL (its whole process group)
 * after the file, if a test has not killed it before.
 *
 * Tokens: `shareAdminToken` makes one admin token with the CLI (as an
 * operator would) and has test clients send it to every gateway of the list,
 * which share one database.
 */
import { readFileSync } from 'node:fs';
import { until } from './clients.js';
import { adminTokenWithCli, StartCommand, STARTUP_MS, tempDir } from './command.js';
import { adminTokens } from './gateway.js';
import { freePort } from './ports.js';

/** A gateway process. */
export interface ChildGateway {
  command: StartCommand;
  /** `http://127.0.0.1:<port>/graphql` */
  url: string;
  /** Its configuration (the environment it was started with). */
  vars: Record<string, string>;
  /** The pid of the process running main.ts. */
  pid: number;
}

/** Starts the gateway command over `databaseUrl` with `vars`; resolves once it is ready. */
export async function startChildGateway(databaseUrl: string, vars: Record<string, string> = {}): Promise<ChildGateway> {
  const port = await freePort();
  const all = { DATABASE_URL: databaseUrl, PORT: String(port), HNG_LOG_LEVEL: 'info', ...vars };
  const command = new StartCommand(all, tempDir());
  const url = `http://127.0.0.1:${port}/graphql`;
  let ready = false;
  await until(
    () => ready,
    STARTUP_MS,
    `gateway on port ${port} ready`,
    async () => {
      if (command.ended) throw new Error(`the gateway exited (${JSON.stringify(command.ended)}):\n${command.stderr}`);
      ready = await fetch(url.replace('/graphql', '/readyz')).then(
        (r) => r.ok,
        () => false,
      );
    },
  );
  return { command, url, vars: all, pid: command.pid };
}

/** Makes an admin token with the CLI on the database of `gateways[0]`, sent by test clients to each of them. */
export async function shareAdminToken(gateways: readonly ChildGateway[]): Promise<string> {
  const token = await adminTokenWithCli(gateways[0]!.url, gateways[0]!.vars);
  for (const g of gateways) adminTokens.set(new URL(g.url).origin, token);
  return token;
}

/** The resident set size of process `pid`, in MiB (Linux: VmRSS of /proc/<pid>/status). */
export function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round((Number(match[1]) / 1024) * 10) / 10;
}

/** The value of the first sample of `/metrics` whose name matches `name` (a regex source) and labels `labels`, or 0. */
export async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
  const escaped = labels.replace(/[{}"]/g, (c) => `\\${c}`);
  const match = new RegExp(`^(?:${name})${escaped}\\s+(\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** The sum of every sample of `/metrics` whose name matches `name` (a regex source), whatever its labels. */
export async function metricSum(url: string, name: string): Promise<number> {
  const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^(?:${name})(?:\\{[^}]*\\})?\\s+(\\S+)$`, 'gm'))) sum += Number(match[1]);
  return sum;
}
