/**
 * The start command as a newcomer runs it: `node dist/app/src/main.js`
 * (what `npm start` runs, after its build: the global setup builds it) spawned as a real child process in a process group
 * of its own, with
 * its output captured, and the embedded Postgres it runs looked up through
 * the data folder's `postmaster.pid`. Every command and temp folder is
 * disposed after the test file, even on failure: the process group killed,
 * then any postmaster left in its data folder. Beside it, the
 * hydra-notify-gateway command (`runCli` to the end, `CliCommand` while it
 * keeps running) and the examples' programs (`CliCommand.of`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Client, createClient } from 'graphql-ws';
import { afterAll } from 'vitest';
import WebSocket from 'ws';
import { tokenFor } from './clients.js';
import { adminTokens, onCleanup } from './gateway.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The embedded Postgres's initdb alone takes a few seconds; a loaded machine more. */
export const STARTUP_MS = 90_000;
const EXIT_MS = 30_000;

export { hasRecord, logRecords, type LogRecord, STACK_FRAME, WARN_OR_ERROR } from './logs.js';

const tempDirs: string[] = [];

/** The environment of a child: this process's, without the developer's own configuration, plus `vars`. */
/** `exit`, or a rejection naming what the process printed on stderr when it has not exited within `timeoutMs`. */
async function exitWithin(exit: Promise<Exit>, timeoutMs: number, stderr: () => string): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms:\n${stderr()}`)), timeoutMs);
  });
  try {
    return await Promise.race([exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function childEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key === 'DATABASE_URL' || key === 'PORT' || key === 'HOST' || key.startsWith('HNG_')) delete env[key];
  }
  return { ...env, ...vars };
}

/** What a CLI command printed, and its exit code. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `hydra-notify-gateway …args` (the package's bin) with `vars` as its configuration, to the end. */
export async function runCli(args: readonly string[], vars: Record<string, string> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'hydra-notify-gateway.js'), ...args], {
    cwd: ROOT,
    env: childEnv(vars),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('close', (exit) => resolve(exit)));
  return { code, stdout, stderr };
}

/**
 * A command that keeps running (`events tail`, `simulate`, an example),
 * spawned in a process group of its own, its output read as it comes: a
 * test awaits a line, then acts, then stops it with a signal. Killed after
 * the file if still running. `new CliCommand(args)` runs the package's bin;
 * `CliCommand.of(file, args)` any program (node, python3, sh).
 */
export class CliCommand {
  stdout = '';
  stderr = '';
  readonly exit: Promise<Exit>;
  private readonly child: ChildProcess;
  private waiters: (() => void)[] = [];

  constructor(args: readonly string[], vars: Record<string, string> = {}, file: string = process.execPath, bin = true) {
    this.child = spawn(file, bin ? [join(ROOT, 'bin', 'hydra-notify-gateway.js'), ...args] : args, {
      cwd: ROOT,
      env: childEnv(vars),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const wake = () => {
      for (const w of this.waiters.splice(0)) w();
    };
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      wake();
    });
    let ended = false;
    this.exit = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        ended = true;
        wake();
        resolve({ code, signal });
      }),
    );
    this.ended = () => ended;
    cliCommands.push(this);
  }

  private readonly ended: () => boolean;

  /** Runs `file args…` (a program, not the bin) with `vars` as its environment's configuration. */
  static of(file: string, args: readonly string[], vars: Record<string, string> = {}): CliCommand {
    return new CliCommand(args, vars, file, false);
  }

  /** Resolves once `predicate` holds for the output so far; rejects if the command ends first or after `timeoutMs`. */
  async waitFor(predicate: (command: CliCommand) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (this.ended()) throw new Error(`ended before ${what}:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what} not seen within ${timeoutMs} ms:\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The complete lines of stdout so far. */
  get lines(): string[] {
    return this.stdout.split('\n').slice(0, -1);
  }

  /** Ctrl-C: SIGINT to the process (a shell script's pipeline: see `terminateGroup`). */
  interrupt(): void {
    this.child.kill('SIGINT');
  }

  /** SIGTERM to the command itself, as a service manager stops it. */
  terminate(): void {
    this.child.kill('SIGTERM');
  }

  /** SIGTERM to its whole process group: a shell script and the programs of its pipeline. */
  terminateGroup(): void {
    process.kill(-this.child.pid!, 'SIGTERM');
  }

  /** How it ended; rejects after `timeoutMs`. */
  exited(timeoutMs = EXIT_MS): Promise<Exit> {
    return exitWithin(this.exit, timeoutMs, () => this.stderr);
  }

  /** Kills it if it still runs. */
  async destroy(): Promise<void> {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // already gone, with its group
    }
    if (!this.ended()) await this.exit;
  }
}

const cliCommands: CliCommand[] = [];

/**
 * Makes an admin token with the CLI, on the database of the gateway at `url`
 * (configured by `vars`, as its start command was), the way an operator
 * would; test clients send it to that gateway from now on.
 */
export async function adminTokenWithCli(url: string, vars: Record<string, string>): Promise<string> {
  const run = await runCli(
    ['tokens', 'create', '--name', `test-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, '--scope', 'admin'],
    vars,
  );
  if (run.code !== 0) throw new Error(`tokens create exited ${run.code}: ${run.stderr}`);
  const token = run.stdout.trim();
  adminTokens.set(new URL(url).origin, token);
  return token;
}

/** A fresh temp folder, removed after the file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hng-start-'));
  tempDirs.push(dir);
  return dir;
}

/** Whether `pid` is a live (not zombie) postmaster of the cluster in `databaseDir`. */
export function isPostmasterOf(pid: number, databaseDir: string): boolean {
  try {
    if (existsSync('/proc')) {
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
      return state !== 'Z' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(databaseDir);
    }
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of the live postmaster of `<dataDir>/postgres`, or null. */
export function postmasterPid(dataDir: string): number | null {
  const databaseDir = join(dataDir, 'postgres');
  const pidFile = join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isPostmasterOf(pid, databaseDir) ? pid : null;
}

/**
 * Resolves once `pid` is no postmaster of `<dataDir>/postgres` any more; rejects
 * after `timeoutMs`. A process that is not a child gives no event: it is checked every 50 ms.
 */
export async function postmasterGone(pid: number, dataDir: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isPostmasterOf(pid, join(dataDir, 'postgres'))) {
    if (Date.now() > deadline) throw new Error(`postmaster ${pid} still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stops a postmaster left running in `<dataDir>/postgres` (immediate shutdown), if any. */
async function killLeftoverPostgres(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === null) return;
  process.kill(pid, 'SIGQUIT');
  // A test may have stopped it (SIGSTOP): it acts on the SIGQUIT once continued.
  process.kill(pid, 'SIGCONT');
  await postmasterGone(pid, dataDir, 10_000).catch(() => process.kill(pid, 'SIGKILL'));
}

/** How a child process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One run of the start command, in a process group of its own, as a terminal
 * runs it: `interrupt` signals the whole group, `destroy` kills it.
 */
export class StartCommand {
  stderr = '';
  stdout = '';
  ended: Exit | null = null;
  readonly exit: Promise<Exit>;
  private readonly child: ChildProcess;
  private waiters: (() => void)[] = [];

  constructor(
    vars: Record<string, string>,
    readonly dataDir: string,
  ) {
    this.child = spawn(process.execPath, ['dist/app/src/main.js'], {
      cwd: ROOT,
      env: childEnv({ HNG_DATA_DIR: dataDir, ...vars }),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.wake();
    });
    this.exit = new Promise((resolve) => {
      const done = (exit: Exit) => {
        this.ended ??= exit;
        this.wake();
        resolve(this.ended);
      };
      this.child.once('close', (code, signal) => done({ code, signal }));
      this.child.once('error', (error) => {
        this.stderr += `spawn failed: ${error.message}\n`;
        done({ code: null, signal: null });
      });
    });
    commands.push(this);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once stderr contains `text`; rejects if the process ends first or after `timeoutMs`. */
  async waitForLog(text: string, timeoutMs = STARTUP_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stderr.includes(text)) {
      if (this.ended) throw new Error(`exited (${JSON.stringify(this.ended)}) before logging "${text}":\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`"${text}" not logged within ${timeoutMs} ms:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** How the process ended; rejects after `timeoutMs`. */
  exited(timeoutMs = EXIT_MS): Promise<Exit> {
    return exitWithin(this.exit, timeoutMs, () => this.stderr);
  }

  /** SIGTERM to the command itself, as `kill <pid>` or a service manager sends it. */
  terminate(): void {
    this.child.kill('SIGTERM');
  }

  /** Ctrl-C in a terminal: SIGINT to every process of the foreground process group. */
  interrupt(): void {
    process.kill(-this.child.pid!, 'SIGINT');
  }

  /** The pid of the process that runs main.ts: the gateway. */
  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Kills a run still going: its postmaster first (an immediate shutdown that ends its
   * backends too), then the whole process group; then any postmaster still left.
   */
  async destroy(): Promise<void> {
    if (!this.ended && this.child.pid) {
      await killLeftoverPostgres(this.dataDir);
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.exited(10_000).catch(() => undefined);
    }
    await killLeftoverPostgres(this.dataDir);
  }
}

const commands: StartCommand[] = [];

afterAll(async () => {
  for (const command of cliCommands.splice(0)) await command.destroy().catch(() => undefined);
  for (const command of commands.splice(0)) await command.destroy().catch(() => undefined);
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A graphql-ws client to `url` (disposed after the file) whose socket's close code is awaited. */
export function watchedSocket(url: string): { client: Client; code: Promise<number> } {
  let closed!: (code: number) => void;
  const code = new Promise<number>((resolve) => (closed = resolve));
  const token = tokenFor(url);
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token === null ? {} : { token },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {},
    on: { closed: (event) => closed((event as { code: number }).code) },
  });
  onCleanup(async () => client.dispose());
  return { client, code };
}
