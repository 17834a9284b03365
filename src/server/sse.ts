/**
 * Server-Sent Events with resumption: every event of a subscription is sent
 * with `id: <cursor>`, and a client that reconnects with `Last-Event-ID`
 * (as every EventSource does by itself) resumes right after it.
 *
 * Contract: the subscription resolvers record the cursor of the event they
 * deliver on the operation's context (`lastCursor`); `useSseCursors` copies it
 * into each result's `extensions.cursor` (WebSocket clients see it there too)
 * and, for `text/event-stream` responses, writes it as the SSE `id:` field.
 * The request's `Last-Event-ID` header becomes the context's `resumeAfter`,
 * which subscriptions treat as their `after` argument. Frames follow the
 * graphql-sse "distinct connections" protocol: `event: next` with the result
 * as `data:`, `event: complete` at the end, and a comment line as keep-alive.
 *
 * Each stream is a session of its principal (auth/sessions.ts): over the
 * principal's limit it is refused (429, LIMIT_EXCEEDED); when its token is
 * revoked or expires it ends with one UNAUTHENTICATED error and `complete`.
 */
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import type { Sessions } from '../auth/sessions.js';
import { errorResult, errors, type GatewayError } from '../errors.js';
import type { Context } from '../schema/builder.js';
import { FRAME, isShared } from './shared.js';

/** Keep-alive comment interval. @default 12_000 // 12 seconds */
export const PING_MS = 12_000;
/** How soon an EventSource reconnects after a dropped stream. @default 1_000 */
const RETRY_MS = 1_000;

/** A stream's first bytes: they flush the headers through proxies that buffer; `retry` tells an EventSource to come back after a second when the stream drops. */
export const PREAMBLE = `:\nretry: ${RETRY_MS}\n\n`;

/** A stream's last frame. */
export const COMPLETE_FRAME = 'event: complete\ndata:\n\n';

/** The keep-alive, a comment line, every `PING_MS`. */
export const PING_FRAME = ':\n\n';

/** The frame of one result, serialized as `json`, with its cursor as the SSE id. */
export function sseFrame(json: string, cursor: string | null): string {
  return `${cursor ? `id: ${cursor}\n` : ''}event: next\ndata: ${json}\n\n`;
}

type Result = { extensions?: Record<string, unknown> } & Record<string, unknown>;

function frames(result: Result): string {
  if (isShared(result)) {
    const { json, cursor } = result[FRAME];
    return sseFrame(json, cursor);
  }
  const cursor = result.extensions?.cursor;
  return sseFrame(JSON.stringify(result), typeof cursor === 'string' ? cursor : null);
}

type FetchAPI = { Response: typeof Response; ReadableStream: typeof ReadableStream };

/** The frame of a result that is one error. */
export function errorFrame(error: GatewayError): string {
  return frames(errorResult(error));
}

/** How a stream's session ends it: `end` is set by the stream, `unregister` by the session. */
interface StreamSession {
  end: (reason: string) => void;
  unregister: () => void;
}

function sseResponse(result: AsyncIterable<Result>, fetchAPI: FetchAPI, session: StreamSession): Response {
  const encoder = new TextEncoder();
  let iterator: AsyncIterator<Result> | null = null;
  let ping: NodeJS.Timeout | null = null;
  const close = () => session.unregister();
  let ended = false;
  const stop = () => {
    ended = true;
    close();
    if (ping) clearInterval(ping);
  };
  const stream = new fetchAPI.ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(PREAMBLE));
      ping = setInterval(() => {
        try {
          controller.enqueue(encoder.encode(PING_FRAME));
        } catch {
          if (ping) clearInterval(ping);
        }
      }, PING_MS);
      iterator = result[Symbol.asyncIterator]();
      session.end = (reason) => {
        if (ended) return;
        stop();
        try {
          controller.enqueue(encoder.encode(errorFrame(errors.unauthenticated(`Unauthorized: ${reason}`))));
          controller.enqueue(encoder.encode(COMPLETE_FRAME));
          controller.close();
        } catch {
          // The client left already.
        }
        void iterator?.return?.();
      };
    },
    async pull(controller) {
      const next = await iterator!.next();
      if (ended) return;
      if (!next.done) {
        controller.enqueue(encoder.encode(frames(next.value)));
        return;
      }
      stop();
      controller.enqueue(encoder.encode(COMPLETE_FRAME));
      controller.close();
    },
    async cancel() {
      stop();
      await iterator?.return?.();
    },
  });
  return new fetchAPI.Response(stream, {
    status: 200,
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'content-encoding': 'none' },
  });
}

/** The yoga plugin: cursors in results and SSE ids, Last-Event-ID resumption, streams as sessions. */
export function useSseCursors(sessions: Sessions): Plugin<Record<string, unknown>> {
  return {
    onSubscribe({ args }) {
      const context = args.contextValue as unknown as Context;
      return {
        onSubscribeResult() {
          return {
            onNext({ result, setResult }) {
              // A shared frame carries its cursor already (shared.ts).
              if (context.lastCursor && !isShared(result))
                setResult({ ...result, extensions: { ...result.extensions, cursor: context.lastCursor } });
            },
          };
        },
      };
    },
    onResultProcess({ request, result, setResultProcessor, serverContext }) {
      const accept = request.headers.get('accept') ?? '';
      if (!(Symbol.asyncIterator in (result as object))) return;
      if (!accept.includes('text/event-stream')) {
        // A subscription asked for as one answer: it has none. Its stream, opened already, ends here
        // (left to yoga, it would answer 406 and keep the subscription forever).
        setResultProcessor(
          (r, fetchAPI) => {
            void (r as AsyncIterable<Result>)[Symbol.asyncIterator]().return?.();
            const refusal = errors.badInput(
              'subscriptions are served over WebSocket (graphql-ws) or Server-Sent Events (Accept: text/event-stream)',
            );
            return new (fetchAPI as unknown as FetchAPI).Response(JSON.stringify(errorResult(refusal)), {
              status: 406,
              headers: { 'content-type': 'application/json' },
            });
          },
          accept.split(',')[0]?.trim() || 'application/json',
        );
        return;
      }
      const principal = (serverContext as { principal?: Principal }).principal!;
      setResultProcessor((r, fetchAPI) => {
        const iterable = r as AsyncIterable<Result>;
        const session: StreamSession = { end: () => {}, unregister: () => {} };
        try {
          session.unregister = sessions.open(principal, 'sse', (reason) => session.end(reason));
        } catch (error) {
          void iterable[Symbol.asyncIterator]().return?.();
          const refusal = error as GatewayError;
          return new (fetchAPI as unknown as FetchAPI).Response(JSON.stringify(errorResult(refusal)), {
            status: 429,
            headers: { 'content-type': 'application/json' },
          });
        }
        return sseResponse(iterable, fetchAPI as unknown as FetchAPI, session);
      }, 'text/event-stream');
    },
  };
}

/** The cursor a reconnecting SSE client asks to resume after, if any. */
export function lastEventId(header: string | string[] | undefined): string | null {
  // Repeated, a header reads as its values joined, as fetch's Headers.get reads it.
  const id = Array.isArray(header) ? header.join(', ') : header;
  return id ? id.trim() : null;
}
