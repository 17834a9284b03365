/**
 * The HTTP server: `/graphql` for queries and mutations over HTTP,
 * subscriptions over Server-Sent Events (graphql-yoga) and over WebSocket
 * (graphql-ws on the same path), GraphiQL in a browser (self-contained: no
 * CDN); `/healthz` and
 * `/metrics` beside it.
 *
 * Contract: the transports are thin; both run the same envelop pipeline of
 * one yoga instance, so errors are masked alike (a GraphQLError with an
 * `extensions.code` reaches the client; anything else becomes "Unexpected
 * error."). `close()` ends every WebSocket with 1001 (going away) and every
 * SSE stream, then stops accepting connections. `startHttp` listens before
 * it attaches the WebSocket server; a failure to listen rejects with one
 * `ListenError` that says what to do, and leaves nothing open.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionArgs, GraphQLError, GraphQLSchema } from 'graphql';
import type { OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Context } from '../schema/builder.js';
import type { Log } from '../log.js';
import { lastEventId, useSseCursors } from './sse.js';

/** What the HTTP layer needs from the gateway. */
export interface HttpOptions {
  schema: GraphQLSchema;
  /** A fresh context for one request or one WebSocket operation. */
  context: (init: { resumeAfter: string | null }) => Context;
  /** Answers `/healthz`: true when the gateway is listening to Hydra. */
  healthy: () => boolean;
  /** The Prometheus text of `/metrics`. */
  metrics: () => string;
  log: Log;
}

/** A running HTTP server. */
export interface HttpServer {
  server: Server;
  /** `http://host:port/graphql` */
  url: string;
  close(): Promise<void>;
}

/** Starts the HTTP + WebSocket server on `host:port` (port 0 picks a free one). */
export async function startHttp(options: HttpOptions, host: string, port: number): Promise<HttpServer> {
  const { log } = options;
  const yoga = createYoga<Record<string, unknown>>({
    schema: options.schema,
    graphqlEndpoint: '/graphql',
    context: ({ request }) => options.context({ resumeAfter: lastEventId(request as Request | undefined) }),
    plugins: [useSseCursors()],
    graphiql: { subscriptionsProtocol: 'WS', title: 'hydra-notify-gateway' },
    // GraphiQL served from this process, not a CDN: it works beside a Hydra without internet.
    renderGraphiQL,
    landingPage: false,
    logging: {
      debug: (...args) => log.debug(String(args[0])),
      info: (...args) => log.info(String(args[0])),
      warn: (...args) => log.warn(String(args[0])),
      error: (...args) => log.error(String(args[0]), { detail: args[1] instanceof Error ? args[1].message : undefined }),
    },
  });

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const ok = options.healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not listening to Hydra\n');
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(options.metrics());
    } else if (path === '/') {
      res.writeHead(302, { location: '/graphql' }).end();
    } else {
      void yoga(req, res);
    }
  });

  // Listen before the WebSocket server is attached: ws forwards the server's errors to its own,
  // where graphql-ws prints them with a stack trace, and a port in use is the operator's
  // everyday mistake, reported once and plainly by the caller.
  await listen(server, host, port);

  const wss = new WebSocketServer({ server, path: '/graphql' });
  const ws = useServer(
    {
      execute: (args: ExecutionArgs) => (args.rootValue as Enveloped).execute(args),
      subscribe: (args: ExecutionArgs) => (args.rootValue as Enveloped).subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        let document;
        try {
          document = parse(params.query);
        } catch (error) {
          return [error as GraphQLError];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        return {
          schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } as Enveloped,
        };
      },
    },
    wss,
  );

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    server,
    url: `http://${shownHost}:${address.port}/graphql`,
    async close() {
      await ws.dispose();
      wss.close();
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

/** The envelop-wrapped executors, passed to graphql-ws through `rootValue`. */
interface Enveloped {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}
