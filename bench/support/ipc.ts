/**
 * The message shapes between the orchestrator and its child processes
 * (servers and clients), and the child's side of them.
 *
 * Contract: the parent sends requests `{ type, seq, ... }`; the child answers
 * each with exactly one `{ type: 'reply', seq, ok, value | error }`. A child
 * may also send events `{ type: 'event', name, ... }` at any time (ready,
 * phase done). A child whose parent goes away (IPC channel closed) exits at
 * once, so an orchestrator that crashed leaves no server or client running.
 */

/** A request from the parent. */
export interface Request {
  type: string;
  seq: number;
  [key: string]: unknown;
}

/** The answer to one request. */
export type Reply = { type: 'reply'; seq: number; ok: true; value: unknown } | { type: 'reply'; seq: number; ok: false; error: string };

/** Something a child reports unasked. */
export interface ChildEvent {
  type: 'event';
  name: string;
  [key: string]: unknown;
}

/** Handlers of a child, by request type. */
export type Handlers = Record<string, (request: Request) => unknown>;

/** Sends an event to the parent (dropped when there is no parent any more). */
export function emit(name: string, fields: Record<string, unknown> = {}): void {
  if (process.connected) process.send?.({ type: 'event', name, ...fields } satisfies ChildEvent);
}

/**
 * Answers the parent's requests with `handlers`; exits when the parent is
 * gone. Unknown types and thrown errors are answered as failures.
 */
export function serveParent(handlers: Handlers): void {
  if (!process.send) throw new Error('this script is a child of bench/main.ts: run `npm run bench`');
  process.on('disconnect', () => process.exit(2));
  process.on('message', (message: Request) => {
    const handler = handlers[message.type];
    const answer = (reply: Reply) => {
      if (process.connected) process.send?.(reply);
    };
    if (!handler) {
      answer({ type: 'reply', seq: message.seq, ok: false, error: `unknown request ${message.type}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message))
      .then(
        (value) => answer({ type: 'reply', seq: message.seq, ok: true, value: value ?? null }),
        (error: unknown) =>
          answer({ type: 'reply', seq: message.seq, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
}
