/**
 * The HTTP server: `/graphql` for queries and mutations over HTTP,
 * subscriptions over Server-Sent Events (graphql-yoga) and over WebSocket
 * (graphql-ws on the same path, ws.ts), GraphiQL in a browser
 * (graphiql.ts; self-contained: no CDN); the dashboard at `/` with its files
 * under `/assets/` (dashboard.ts); `/healthz`, `/readyz` and `/metrics`
 * beside it.
 *
 * Contract:
 * - Before any GraphQL runs: a Host the gateway does not answer to is 403
 *   (DNS rebinding), a POST body of a kind a browser sends without preflight
 *   (form, multipart, text) is 415 (CSRF), a body without a length or over
 *   `maxBodyBytes` is 411/413, and the principal is authenticated: no valid
 *   token where one is needed is 401 with `WWW-Authenticate: Bearer`
 *   (UNAUTHENTICATED). GraphiQL's and the dashboard's pages and files need no
 *   token (they hold no data; what they show, they read through /graphql
 *   with the token the person gives them).
 * - CORS headers answer only the listed origins (never a reflection of any
 *   origin), without credentials: tokens travel in headers, not cookies.
 * - Both transports run the same envelop pipeline of one yoga instance: the
 *   limits of GraphQL Armor, masking (a GraphQLError with an
 *   `extensions.code` reaches the client; anything else becomes "Unexpected
 *   error." and is logged), authorization in the schema.
 * - `close()` ends every WebSocket with 1001 (going away) and every SSE
 *   stream, then stops accepting connections. A failure to listen rejects
 *   with one `ListenError` that says what to do (no stack trace: the
 *   WebSocket server is not attached to the HTTP server's errors).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import type { Sessions } from '../auth/sessions.js';
import type { TokenService } from '../auth/tokens.js';
import { errorResult, errors, type GatewayError, isDatabaseUnavailable, maskUnexpected } from '../errors.js';
import type { Context, Transport } from '../schema/builder.js';
import type { Log } from '../log.js';
import { type Asset, sendAsset } from './assets.js';
import { authenticate, presentedToken } from './authenticate.js';
import { type Dashboard, loadDashboard, notBuiltPage } from './dashboard.js';
import { GraphiQL } from './graphiql.js';
import { type AccessPolicy, hostAllowed, isSimpleBody } from './policy.js';
import { execute } from 'graphql';
import { type DocumentLimits, useDocumentLimits } from './limits.js';
import { SharedSubscriptions } from './shared.js';
import { countSubscription, useDeliveryMetrics } from './deliveries.js';
import type { GatewayMetrics } from './metrics.js';
import { lastEventId, useSseCursors } from './sse.js';
import { DirectRequests, type Precomputed } from './requests.js';
import { useContextRelease } from './release.js';
import { EventStreams, ResponseTransport } from './streams.js';
import { startWebSockets, type WsLimits } from './ws.js';

/** The limits of the HTTP transport and of every document. */
export interface HttpLimits extends WsLimits, DocumentLimits {
  maxBodyBytes: number;
}

/** What the HTTP layer needs from the gateway. */
export interface HttpOptions {
  schema: GraphQLSchema;
  /** A fresh context for one request or one WebSocket operation. */
  context: (init: { principal: Principal; transport: Transport | null; resumeAfter: string | null }) => Context;
  tokens: TokenService;
  sessions: Sessions;
  policy: AccessPolicy;
  limits: HttpLimits;
  /** Answers `/healthz`: the process is alive and serving. */
  healthy: () => boolean;
  /** Answers `/readyz`: the pool answers and LISTEN is verified by a round trip; the reason when not. */
  ready: () => Promise<string | null>;
  /** `/metrics`, and the counts of subscriptions and deliveries. */
  metrics: GatewayMetrics;
  log: Log;
  /** Where the dashboard's build is (`npm run build:dashboard`). @default dist/dashboard */
  dashboardDir?: string;
}

/** A running HTTP server. */
export interface HttpServer {
  server: Server;
  /** The shared executions of its subscriptions (counts for metrics and tests). */
  shared: SharedSubscriptions;
  /** Queries and mutations answered without yoga's request pipeline (counts for tests). */
  requests: DirectRequests;
  /** `http://host:port/graphql` */
  url: string;
  close(): Promise<void>;
}

/** What yoga's context factory is handed by the node handler or by ws.ts. */
interface ServerContext extends Record<string, unknown> {
  principal?: Principal;
  transport?: Transport;
  /** The request's `Last-Event-ID` (sse.ts), read by `serve`. */
  resumeAfter?: string | null;
  /** The outcome of an execution requests.ts ran, for yoga to answer as its own. */
  precomputed?: Precomputed | null;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${body}\n`);
}

function sendError(res: ServerResponse, error: GatewayError, status?: number): void {
  const http = (error.extensions.http ?? {}) as { status?: number; headers?: Record<string, string> };
  res
    .writeHead(status ?? http.status ?? 400, { 'content-type': 'application/json; charset=utf-8', ...http.headers })
    .end(JSON.stringify(errorResult(error)));
}

/** A GET that asks for GraphiQL's page (a browser navigating to /graphql), which needs no token. */
function wantsGraphiQL(req: IncomingMessage): boolean {
  return req.method === 'GET' && (req.headers.accept ?? '').includes('text/html') && !/[?&]query=/.test(req.url ?? '');
}

/** Starts the HTTP + WebSocket server on `host:port` (port 0 picks a free one). */
export async function startHttp(options: HttpOptions, host: string, port: number): Promise<HttpServer> {
  const { log, policy, limits, tokens } = options;
  /** yoga's CORS options for a request from `origin`: only the listed origins, without credentials. */
  const corsOf = (origin: string | null | undefined) =>
    origin && policy.corsOrigins.includes(origin)
      ? { origin, credentials: false, methods: ['GET', 'POST'], allowedHeaders: ['authorization', 'content-type', 'last-event-id'] }
      : false;
  const shared = new SharedSubscriptions({
    execute: (args) => execute(args) as never,
    log,
    count: (context) => countSubscription(options.metrics, context),
  });
  const yoga = createYoga<ServerContext>({
    schema: options.schema,
    graphqlEndpoint: '/graphql',
    context: ({ principal, transport, resumeAfter }) =>
      options.context({ principal: principal!, transport: transport ?? null, resumeAfter: resumeAfter ?? null }),
    plugins: [
      useDocumentLimits(limits),
      // Identical subscriptions share one execution per event (shared.ts), over SSE as over WebSocket;
      // their results skip the hooks of the plugins after this one (see shared.ts). envelop awaits a
      // promised result as it awaits a subscribe's.
      {
        onSubscribe: ({ args, setResultAndStopExecution }) => {
          const result = shared.share(args);
          if (result) setResultAndStopExecution(result as never);
        },
      } satisfies Plugin<ServerContext>,
      useSseCursors(options.sessions),
      useDeliveryMetrics(options.metrics),
      // Before the next one, whose stop skips the hooks after it.
      useContextRelease(),
      // An execution requests.ts ran and hands over for yoga to answer: its outcome, not a second run.
      {
        onExecute: ({ args, setResultAndStopExecution }) => {
          const { precomputed } = args.contextValue as ServerContext;
          if (!precomputed) return;
          if ('thrown' in precomputed) throw precomputed.thrown;
          setResultAndStopExecution(precomputed.result);
        },
      } satisfies Plugin<ServerContext>,
    ],
    cors: (request) => corsOf(request.headers.get('origin')),
    // The body's limit is `serve`'s (HNG_MAX_BODY_BYTES, checked before yoga sees the request): a POST
    // without Content-Length is refused there, and Node's parser never reads past that length. Yoga's
    // own limit would pipe every body through a web TransformStream to count it again (about 5 % of
    // an acknowledgement's CPU, an AbortError with its stack made per request), and would refuse at
    // its 25 MB default what a larger HNG_MAX_BODY_BYTES allows.
    maxRequestBodySize: false,
    // A database that cannot be reached answers DATABASE_UNAVAILABLE (503), not "Unexpected error.".
    maskedErrors: { maskError: maskUnexpected },
    // GraphiQL's page is graphiql.ts's, served before yoga sees the request.
    graphiql: false,
    landingPage: false,
    logging: {
      debug: (...args) => log.debug(String(args[0])),
      info: (...args) => log.info(String(args[0])),
      warn: (...args) => log.warn(String(args[0])),
      // yoga logs an unexpected error (masked for the client) as the Error itself: its stack at debug.
      // A database away (answered DATABASE_UNAVAILABLE) is an outage, not a bug: a warning, no stack.
      error: (...args) =>
        !(args[0] instanceof Error)
          ? log.error(String(args[0]), { detail: args[1] })
          : isDatabaseUnavailable(args[0])
            ? log.warn('operation failed: the database is away (answered DATABASE_UNAVAILABLE)', { error: args[0].message })
            : log.error('operation failed', { error: args[0] }),
    },
  });

  /** The headers yoga's CORS writes on a response to `origin`, for the paths that answer before yoga. */
  const corsHeaders = (origin: string | undefined): Record<string, string> => {
    const cors = corsOf(origin);
    if (!cors) return {};
    return {
      'access-control-allow-origin': cors.origin,
      'access-control-allow-methods': cors.methods.join(', '),
      'access-control-allow-headers': cors.allowedHeaders.join(', '),
    };
  };
  // Shared subscriptions over SSE are written by streams.ts.
  const streams = new EventStreams({ yoga, shared, sessions: options.sessions, corsHeaders });

  // Queries and mutations POSTed as JSON are executed without yoga's request pipeline (requests.ts).
  const direct = new DirectRequests({
    yoga,
    corsHeaders,
    toYoga: (req, res, principal, precomputed) =>
      yoga(req, res, { principal, transport: new ResponseTransport(res, false), resumeAfter: null, precomputed }),
  });

  const built = loadDashboard(options.dashboardDir);
  const dashboard: Dashboard | null = 'missing' in built ? null : built;
  const notBuilt = 'missing' in built ? notBuiltPage(built.missing) : null;
  if ('missing' in built) log.warn('the dashboard is not built: / explains how (npm run build:dashboard)', { reason: built.missing });
  // GraphiQL served from this process, not a CDN: it works beside a Hydra without internet.
  const graphiql = new GraphiQL(dashboard?.graphiqlScript ?? null);

  /** A page or file for a GET or HEAD of `path`, or null when `path` names none. */
  const staticFile = async (path: string): Promise<{ asset: Asset; status: number } | null> => {
    if (path === '/') return notBuilt ? { asset: notBuilt, status: 503 } : { asset: dashboard!.page, status: 200 };
    const file = dashboard?.assets.get(path) ?? (await graphiql.asset(path));
    return file ? { asset: file, status: 200 } : null;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!hostAllowed(policy, req.headers.host)) return send(res, 403, 'Forbidden: host not allowed (HNG_ALLOWED_HOSTS)');
    if (path === '/healthz') return options.healthy() ? send(res, 200, 'ok') : send(res, 503, 'not serving');
    if (path === '/readyz') {
      const problem = await options.ready();
      return problem === null ? send(res, 200, 'ready') : send(res, 503, `not ready: ${problem}`);
    }
    if (path === '/metrics') {
      const { contentType, body } = await options.metrics.render();
      return send(res, 200, body.trimEnd(), { 'content-type': contentType });
    }
    if (path !== '/graphql') {
      const found = await staticFile(path);
      if (!found) return send(res, 404, 'Not Found');
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method Not Allowed', { allow: 'GET, HEAD' });
      return sendAsset(req, res, found.asset, found.status);
    }
    if (req.method === 'POST') {
      if (isSimpleBody(req.headers['content-type'])) {
        return send(res, 415, 'Unsupported Media Type: send operations as application/json (form and text bodies are refused: CSRF)');
      }
      const length = req.headers['content-length'];
      if (length === undefined) return send(res, 411, 'Length Required');
      if (Number(length) > limits.maxBodyBytes) {
        return sendError(
          res,
          errors.limitExceeded(`the body is ${length} bytes, more than ${limits.maxBodyBytes}`, 'HNG_MAX_BODY_BYTES'),
          413,
        );
      }
    }
    if (wantsGraphiQL(req)) return sendAsset(req, res, await graphiql.pageAsset());
    if (req.method === 'OPTIONS') return void yoga(req, res, {});
    const principal = await authenticate(tokens, policy, presentedToken(req), req.socket.remoteAddress ?? 'unknown', req.socket);
    if (!('kind' in principal)) return sendError(res, principal as GatewayError);
    const eventStream = (req.headers.accept ?? '').includes('text/event-stream');
    if (eventStream && (req.method === 'GET' || req.method === 'POST') && (await streams.take(req, res, principal))) return;
    if (!eventStream && req.method === 'POST') return direct.serve(req, res, principal);
    const transport = new ResponseTransport(res, eventStream);
    await yoga(req, res, { principal, transport, resumeAfter: lastEventId(req.headers['last-event-id']) });
  };
  const server = createServer((req, res) => {
    serve(req, res).catch((error: Error) => {
      log.error('request failed', { error });
      if (!res.headersSent) send(res, 500, 'Internal Server Error');
      else res.destroy();
    });
  });
  const ws = startWebSockets({ server, yoga, tokens, sessions: options.sessions, policy, limits, shared, log });

  await listen(server, host, port);
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    server,
    shared,
    requests: direct,
    url: `http://${shownHost}:${address.port}/graphql`,
    async close() {
      streams.close();
      await ws.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A failure to listen, with a message that says what to do. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  constructor(
    message: string,
    /** The system error code: `EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, … */
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'the port is in use (another gateway, or another program?): stop that, or set PORT to a free port',
  EACCES: 'not allowed to bind it (ports below 1024 need privileges): set PORT to a port above 1023',
  EADDRNOTAVAIL: 'no interface of this machine has that address: set HOST to one of its addresses, or 127.0.0.1',
};

/** `server.listen`, rejecting with a `ListenError` instead of an `'error'` event. */
async function listen(server: Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      const hint = error.code ? LISTEN_HINTS[error.code] : undefined;
      reject(new ListenError(hint ?? error.message, error.code));
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
