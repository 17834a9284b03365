/**
 * Child processes of the bench, started from the parent's side: servers and
 * client fleets each run in their own process, so each one's CPU and memory
 * can be read on its own.
 *
 * Contract: `spawnChild` forks a TypeScript entry under `tsx` (or, given
 * `compiled`, the JavaScript tsc made of it, under plain Node) with
 * `--expose-gc` and `--trace-deprecation` (a deprecation warning in a
 * server's log comes with the stack that caused it), pipes its stdout and stderr into a log file (and keeps the
 * last lines in memory), and speaks the request/reply protocol of `ipc.ts`
 * with a deadline on every request. Every child ever spawned is in one
 * registry: `killAllChildren` (also run on process exit and by the
 * orchestrator's signal handlers) SIGKILLs those still alive, by pid, so a
 * failed or interrupted run leaves nothing behind.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './clock.js';
import type { ChildEvent, Reply } from './ipc.js';

const alive = new Set<ChildProcess>();

/** SIGKILLs every child still running. Synchronous, so it may run on `exit`. */
export function killAllChildren(): void {
  for (const child of alive) {
    try {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  alive.clear();
}

process.on('exit', killAllChildren);

/** A running child process and its request channel. */
export class Child {
  readonly pid: number;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((event: ChildEvent) => void)[] = [];
  private readonly tail: string[] = [];
  private readonly matches = new Map<RegExp, number>();
  private exitedWith: number | string | null = null;

  constructor(
    readonly name: string,
    private readonly process: ChildProcess,
    private readonly log: WriteStream,
    watch: readonly RegExp[],
  ) {
    if (process.pid === undefined) throw new Error(`${name}: fork failed`);
    this.pid = process.pid;
    for (const pattern of watch) this.matches.set(pattern, 0);
    const onLine = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log.write(text);
      for (const line of text.split('\n')) {
        if (!line) continue;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        for (const [pattern, count] of this.matches) if (pattern.test(line)) this.matches.set(pattern, count + 1);
      }
    };
    process.stdout?.on('data', onLine);
    process.stderr?.on('data', onLine);
    process.on('message', (message: Reply | ChildEvent) => {
      if (message.type === 'reply') {
        const waiter = this.pending.get(message.seq);
        this.pending.delete(message.seq);
        if (!waiter) return;
        if (message.ok) waiter.resolve(message.value);
        else waiter.reject(new Error(`${name}: ${message.error}`));
      } else if (message.type === 'event') {
        for (const listener of this.listeners) listener(message);
      }
    });
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        alive.delete(process);
        this.exitedWith = code ?? signal ?? 'unknown';
        for (const waiter of this.pending.values())
          waiter.reject(new Error(`${name} exited (${this.exitedWith}); last output:\n${this.lastLines()}`));
        this.pending.clear();
        log.end();
        resolve(this.exitedWith);
      });
    });
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.exitedWith === null;
  }

  /** Sends a request and awaits its reply, for at most `timeoutMs`. */
  request<T = unknown>(type: string, fields: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (!this.running) return Promise.reject(new Error(`${this.name} is not running (exited ${this.exitedWith})`));
    const seq = ++this.seq;
    const answer = new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.process.send({ type, seq, ...fields });
    });
    return withTimeout(answer, timeoutMs, `${this.name} ${type}`).finally(() => this.pending.delete(seq));
  }

  /** Calls `listener` for every event the child sends. */
  onEvent(listener: (event: ChildEvent) => void): void {
    this.listeners.push(listener);
  }

  /** The first event named `name` (matching `predicate`), within `timeoutMs`. */
  waitForEvent(name: string, timeoutMs: number, predicate: (event: ChildEvent) => boolean = () => true): Promise<ChildEvent> {
    const event = new Promise<ChildEvent>((resolve, reject) => {
      this.onEvent((e) => {
        if (e.name === name && predicate(e)) resolve(e);
      });
      void this.exited.then((how) => reject(new Error(`${this.name} exited (${how}) before ${name}; last output:\n${this.lastLines()}`)));
    });
    return withTimeout(event, timeoutMs, `${this.name} waiting for ${name}`);
  }

  /** How many output lines matched `pattern` (one of the `watch` patterns). */
  matched(pattern: RegExp): number {
    return this.matches.get(pattern) ?? 0;
  }

  /** The last lines the child wrote. */
  lastLines(): string {
    return this.tail.join('\n');
  }

  /** Asks the child to stop (`stop` request), then SIGKILLs it after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    await this.request('stop', {}, graceMs).catch(() => {});
    const done = await Promise.race([this.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 2_000))]);
    if (!done) this.kill();
    await this.exited;
  }

  /** SIGKILLs the child now. */
  kill(): void {
    if (this.running) this.process.kill('SIGKILL');
  }
}

/** Options of `spawnChild`. */
export interface SpawnOptions {
  /** Shown in progress lines and errors. */
  name: string;
  /** The entry module, relative to `bench/` (e.g. `servers/floor.ts`). */
  entry: string;
  env?: Record<string, string>;
  /** Where stdout and stderr go. */
  logFile: string;
  /** Output lines to count (see `Child.matched`). */
  watch?: readonly RegExp[];
  /** More Node flags (e.g. `--cpu-prof`). */
  execArgv?: readonly string[];
  /** Start `<compiled>/bench/<entry>.js` with plain Node instead (compiled.ts). */
  compiled?: string | null;
}

/** Forks `bench/<entry>` under tsx (or its compiled JavaScript); see the module contract. */
export function spawnChild(options: SpawnOptions): Child {
  const { compiled } = options;
  const entry = compiled
    ? join(compiled, 'bench', options.entry.replace(/\.ts$/, '.js'))
    : fileURLToPath(new URL(`../${options.entry}`, import.meta.url));
  const processHandle = fork(entry, [], {
    execArgv: [...(compiled ? [] : ['--import', 'tsx']), '--expose-gc', '--trace-deprecation', ...(options.execArgv ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  alive.add(processHandle);
  return new Child(options.name, processHandle, createWriteStream(options.logFile, { flags: 'a' }), options.watch ?? []);
}
