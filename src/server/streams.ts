/**
 * Server-Sent Events streams of shared subscriptions, written straight to
 * the Node response: the same frames as the yoga path (sse.ts), without its
 * fetch `Request` and `Response`, its web stream and the envelop context an
 * idle stream would otherwise hold.
 *
 * Contract:
 * - `take` is asked for every authenticated `GET` or `POST` to `/graphql`
 *   that accepts `text/event-stream`. It takes the request when its
 *   operation is one that is shared (shared.ts: one event subscription field,
 *   not a consumer's), parses and validates, and subscribes; otherwise it
 *   answers false and the caller hands the request to yoga, which answers it
 *   as before (a POST's body, once read here, is left on `req.body` for it).
 *   A subscribe that fails (a bad or expired cursor) is handed to yoga too,
 *   which subscribes again and answers its errors as it always has.
 * - What a taken stream writes is what sse.ts writes: the `retry` preamble,
 *   `id: <cursor>` with `event: next` and the frame as `data:`, a comment as
 *   keep-alive every `PING_MS` (one timer for every stream), `event:
 *   complete` at the end; the CORS headers of the listed origins. Its
 *   `Last-Event-ID` resumes it. It is a session of its principal
 *   (auth/sessions.ts): over the principal's limit it is refused (429,
 *   LIMIT_EXCEEDED, before anything is subscribed); when its token is revoked
 *   or expires it ends with one UNAUTHENTICATED error and `complete`.
 * - A stream whose client does not take what is written waits (`drain`) and
 *   its events queue in the hub, which ends it as a slow consumer; the
 *   client leaving stops it. `close()` ends every stream (shutdown).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import type { Sessions } from '../auth/sessions.js';
import { errorResult, errors, type GatewayError } from '../errors.js';
import type { Transport } from '../schema/builder.js';
import { leaveForYoga, readBody } from './body.js';
import { isJoined, type Joined, type OperationParams, operationParams, type SharedSubscriptions, type Sink } from './shared.js';
import { COMPLETE_FRAME, errorFrame, lastEventId, PING_FRAME, PING_MS, PREAMBLE, sseFrame } from './sse.js';

/** What the streams need. */
export interface StreamsOptions {
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
  shared: SharedSubscriptions;
  sessions: Sessions;
  /** The CORS headers of a response to `origin` (none for an origin not listed). */
  corsHeaders: (origin: string | undefined) => Record<string, string>;
}

/** The parameters of a GET's query string, or null when they do not parse. */
function paramsOfUrl(url: string): OperationParams | null {
  const search = new URL(url, 'http://localhost').searchParams;
  const variables = search.get('variables');
  try {
    return operationParams({
      query: search.get('query'),
      operationName: search.get('operationName'),
      variables: variables ? JSON.parse(variables) : null,
    });
  } catch {
    return null;
  }
}

/**
 * What the hub sees of an HTTP response (events/subscribe.ts): a class, one
 * object per request. `eventStream` when the client asked for SSE: the
 * delivery metrics count it as `sse`.
 */
export class ResponseTransport implements Transport {
  readonly kind = 'http';
  constructor(
    private readonly res: ServerResponse,
    readonly eventStream: boolean,
  ) {}
  buffered(): number {
    return this.res.writableLength;
  }
  close(): void {
    this.res.destroy();
  }
}

/** One taken stream: its response, its subscription and its session. */
class Stream implements Sink {
  joined: Joined | null = null;
  unregister: (() => void) | null = null;
  private ended = false;

  constructor(
    readonly res: ServerResponse,
    private readonly streams: Set<Stream>,
  ) {}

  next(json: string, cursor: string | null): void | Promise<void> {
    if (this.ended) return;
    if (this.res.write(sseFrame(json, cursor))) return;
    return new Promise((resolve) => this.res.once('drain', resolve));
  }

  complete(): void {
    if (this.ended) return;
    this.finish();
    this.res.end(COMPLETE_FRAME);
  }

  fail(error: Error): void {
    if (this.ended) return;
    this.res.write(sseFrame(JSON.stringify({ errors: [{ message: error.message }] }), null));
    this.complete();
  }

  /** Its session ended (the token was revoked or expired): one UNAUTHENTICATED error, then complete. */
  revoked(reason: string): void {
    if (this.ended) return;
    void this.joined?.return();
    this.res.write(errorFrame(errors.unauthenticated(`Unauthorized: ${reason}`)));
    this.complete();
  }

  /** The client left, or the server closes. */
  left(): void {
    if (this.ended) return;
    this.finish();
    void this.joined?.return();
  }

  private finish(): void {
    this.ended = true;
    this.streams.delete(this);
    this.unregister?.();
  }
}

/** The SSE streams of shared subscriptions; see the module contract. */
export class EventStreams {
  private readonly streams = new Set<Stream>();
  private readonly ping: NodeJS.Timeout;

  constructor(private readonly options: StreamsOptions) {
    this.ping = setInterval(() => {
      for (const stream of this.streams) stream.res.write(PING_FRAME);
    }, PING_MS);
    this.ping.unref();
  }

  /** Takes the request if its operation is shared; see the module contract. */
  async take(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<boolean> {
    let params: OperationParams | null;
    if (req.method === 'GET') params = paramsOfUrl(req.url ?? '/');
    else {
      const body = await readBody(req);
      // Left for yoga, should it answer this request after all.
      leaveForYoga(req, body);
      try {
        params = operationParams(JSON.parse(body));
      } catch {
        params = null;
      }
    }
    if (!params) return false;
    const { yoga, shared, sessions } = this.options;
    const transport = new ResponseTransport(res, true);
    const enveloped = yoga.getEnveloped({ principal, transport, resumeAfter: lastEventId(req.headers['last-event-id']) });
    const admitted = shared.admit(enveloped, params, principal);
    if (!admitted) return false;

    const stream = new Stream(res, this.streams);
    try {
      stream.unregister = sessions.open(principal, 'sse', (reason) => stream.revoked(reason));
    } catch (error) {
      res
        .writeHead(429, { 'content-type': 'application/json', ...this.options.corsHeaders(req.headers.origin) })
        .end(JSON.stringify(errorResult(error as GatewayError)));
      return true;
    }
    res.once('close', () => stream.left());
    const joined = await admitted.open(stream);
    if (!isJoined(joined)) {
      stream.left();
      return false;
    }
    if (res.destroyed) {
      await joined.return();
      return true;
    }
    stream.joined = joined;
    this.streams.add(stream);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'content-encoding': 'none',
      ...this.options.corsHeaders(req.headers.origin),
    });
    res.write(PREAMBLE);
    joined.start();
    return true;
  }

  /** Ends every stream: its subscription stops, its response ends. */
  close(): void {
    clearInterval(this.ping);
    for (const stream of [...this.streams]) {
      stream.left();
      stream.res.end();
    }
  }
}
