/**
 * The child-process side of every server under test: starts it, tells the
 * orchestrator where it listens, and answers `gc` and `stop`.
 *
 * Contract: the server runs alone in this process (the orchestrator reads its
 * CPU and memory from /proc); the database URL comes in `BENCH_DATABASE_URL`.
 * Once listening it sends the event `ready` with its `url` (`http://…/graphql`;
 * WebSocket and SSE on the same path). `gc` runs two full collections (the
 * process runs with --expose-gc) and answers `process.memoryUsage()`, so idle
 * memory is read without garbage; `stop` closes the server and exits 0. A
 * start-up failure exits 1 with the message on stderr.
 */
import { emit, serveParent } from '../support/ipc.js';

/** A server started by a child entry. */
export interface RunningServer {
  /** `http://127.0.0.1:port/graphql` */
  url: string;
  /** A bearer token for the orchestrator's requests, where the server needs one. */
  token?: string;
  close(): Promise<void>;
}

/** Starts `start` in this child process and serves the orchestrator; see the contract. */
export function runServerChild(start: (databaseUrl: string) => Promise<RunningServer>): void {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
  let server: RunningServer | null = null;
  serveParent({
    gc: () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      return process.memoryUsage();
    },
    stop: async () => {
      await server?.close();
      setImmediate(() => process.exit(0));
    },
  });
  start(databaseUrl).then(
    (running) => {
      server = running;
      emit('ready', { url: running.url, ...(running.token ? { token: running.token } : {}) });
    },
    (error: Error) => {
      process.stderr.write(`server failed to start: ${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}
