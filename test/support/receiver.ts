/**
 * A webhook endpoint for tests: a real HTTP server on loopback that records
 * every request (headers, body, when it started and ended) and answers as
 * the test scripts it, request by request: a status with headers, after a
 * delay, or never (the request hangs until released or the client leaves).
 *
 * Lifecycle: `startReceiver()` listens on a free port; the server (and any
 * request still held) is closed after the test file by `onCleanup`. Tests
 * wait with `until`/`received(n)`, never by sleeping.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from './clients.js';
import { onCleanup } from './gateway.js';

/** One request as received. */
export interface Received {
  /** 1-based, in arrival order. */
  n: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The parsed body, when JSON. */
  json: unknown;
  startedAt: number;
  /** When the answer was sent or the client left; null while held. */
  endedAt: number | null;
}

/** How to answer one request. */
export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer after this many ms. */
  delayMs?: number;
  /** Never answer (until `release()` or the client goes away). */
  hang?: boolean;
}

/** A recording endpoint; see the module contract. */
export interface Receiver {
  url: string;
  requests: Received[];
  /** Decides the answer of each request (default 200). */
  answer: (request: Received) => Answer;
  /** Waits until `n` requests arrived. */
  received(n: number, timeoutMs?: number): Promise<Received[]>;
  /** Answers every held request with 200. */
  release(): void;
  /** Requests in flight right now (arrived, not yet answered or abandoned). */
  inFlight(): number;
  /** The most requests in flight at once so far. */
  maxInFlight: number;
  close(): Promise<void>;
}

/** Starts a receiver; `answer` may be replaced later (`receiver.answer = …`). */
export async function startReceiver(answer: (request: Received) => Answer = () => ({ status: 200 })): Promise<Receiver> {
  const held = new Set<() => void>();
  let inFlight = 0;
  const receiver: Receiver = {
    url: '',
    requests: [],
    answer,
    maxInFlight: 0,
    async received(n, timeoutMs = 15_000) {
      await until(() => receiver.requests.length >= n, timeoutMs, `${n} webhook requests (got ${receiver.requests.length})`);
      return receiver.requests.slice(0, n);
    },
    release() {
      for (const release of [...held]) release();
    },
    inFlight: () => inFlight,
    close: () =>
      new Promise<void>((resolve) => {
        receiver.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      const request: Received = {
        n: receiver.requests.length + 1,
        method: req.method ?? '',
        path: req.url ?? '',
        headers,
        body,
        json,
        startedAt: Date.now(),
        endedAt: null,
      };
      receiver.requests.push(request);
      inFlight += 1;
      receiver.maxInFlight = Math.max(receiver.maxInFlight, inFlight);
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        inFlight -= 1;
        request.endedAt = Date.now();
      };
      res.on('close', finish);
      const reply = receiver.answer(request);
      const send = (answer: Answer) => {
        if (done || res.writableEnded) return;
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body ?? '{"ok":true}');
        finish();
      };
      if (reply.hang) {
        const release = () => {
          held.delete(release);
          send({ status: 200 });
        };
        held.add(release);
        res.on('close', () => held.delete(release));
      } else if (reply.delayMs) setTimeout(() => send(reply), reply.delayMs);
      else send(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  onCleanup(() => receiver.close());
  return receiver;
}
