/**
 * Subscriptions over WebSocket: the graphql-ws protocol on `/graphql`, run
 * through the same envelop pipeline as HTTP (parse, validate and the limits
 * of GraphQL Armor, masking, authorization).
 *
 * Contract:
 * - The upgrade is refused (403) for a Host the gateway does not answer to,
 *   or an Origin that is neither the gateway's own nor listed (a page of
 *   another site must not ride a user's network position), and (429) when
 *   the remote address already holds `maxPendingPerAddress` sockets that
 *   have not sent their `connection_init`.
 * - `connection_init` must come within `connectionInitTimeoutMs`, with a
 *   valid token (or none, where anonymous reading is allowed): otherwise the
 *   socket closes with 4401 (graphql-ws's 4408 for the timeout). A principal
 *   over its socket limit gets 4429. A revoked or expired token's socket
 *   closes with 4401 (auth/sessions.ts).
 * - Messages over `maxMessageBytes` close the socket (1009); a socket may
 *   hold `maxSubscriptionsPerSocket` subscriptions, the next one is refused
 *   with LIMIT_EXCEEDED; one refused that many times over is flooding and
 *   is closed (4429), what else it sent unread.
 * - Every operation's context tells the hub how much the socket holds unsent
 *   (`transport.buffered`), so a client that stops reading is found slow.
 * - `close()` ends every socket with 1001 (going away) so clients reconnect
 *   elsewhere.
 * - The adapter between `ws` and graphql-ws's transport-free server is this
 *   module's own (graphql-ws's `use/ws` prints socket errors to the console
 *   with a stack trace): a socket's error (a message over the limit) is
 *   logged, the keep-alive pings every socket every `KEEP_ALIVE_MS` and cuts
 *   one that did not answer the previous ping.
 * - A subscription that can be shared (shared.ts: one event subscription
 *   field, not a consumer's; parsed and valid; the socket acknowledged and
 *   under its limit) is taken before graphql-ws sees its message and pushed
 *   (`SharedSubscriptions.join`): its frames are written straight to the
 *   socket as graphql-ws's `next`, `error` and `complete` messages, without
 *   graphql-ws's per-operation loop, its emitter or the envelop context of
 *   the operation, which an idle subscriber would otherwise hold. It is
 *   registered in graphql-ws's record of the socket's subscriptions like
 *   one of its own, before anything is awaited: a `complete` for its id
 *   stops it, a second `subscribe` with its id closes the socket (4409), the
 *   socket's close stops it, the limit counts it. Everything else (queries,
 *   mutations, consumer subscriptions, documents that do not parse or
 *   validate, a socket over its limit) is graphql-ws's, with the same
 *   pipeline as before.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import { type Context as GraphQLWsContext, handleProtocols, makeServer, type OperationResult } from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { Sessions } from '../auth/sessions.js';
import type { TokenService } from '../auth/tokens.js';
import { errors, type GatewayError } from '../errors.js';
import type { Log } from '../log.js';
import { authenticate, tokenOfConnectionParams } from './authenticate.js';
import { type AccessPolicy, hostAllowed, originAllowed } from './policy.js';
import {
  FRAME,
  isJoined,
  type OperationParams,
  operationParams,
  type SharedResult,
  type SharedSubscriptions,
  type Sink,
} from './shared.js';

/** The limits of the WebSocket transport. */
export interface WsLimits {
  maxMessageBytes: number;
  maxSubscriptionsPerSocket: number;
  connectionInitTimeoutMs: number;
  maxPendingPerAddress: number;
}

/** What the WebSocket transport needs. */
export interface WsOptions {
  server: Server;
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
  tokens: TokenService;
  sessions: Sessions;
  policy: AccessPolicy;
  limits: WsLimits;
  /** The shared executions, which pushed subscriptions join. */
  shared: SharedSubscriptions;
  log: Log;
}

/**
 * What this module keeps of one socket (graphql-ws's `extra`): one object
 * whose fields are declared up front, held for the socket's life. Not the
 * upgrade's request: an idle socket would hold its headers.
 */
class SocketState {
  principal: Principal | undefined = undefined;
  endSession: (() => void) | undefined = undefined;
  /** The ids of the subscriptions this socket was let start (those since ended are pruned as it is read). */
  held: Set<string> | undefined = undefined;
  /** How many subscriptions this socket was refused for being over its limit. */
  refused = 0;
  /** The socket's transport, which every operation's context carries. */
  transport: SocketTransport | undefined = undefined;
  /** graphql-ws's state of the socket, once acknowledged (pushed subscriptions register in it). */
  ctx: SocketContext | undefined = undefined;
  /** The deadline of its `connection_init`, until it comes. */
  initTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly socket: WebSocket,
    /** The remote address, for authentication's limits. */
    readonly address: string,
    /** Sockets waiting for their `connection_init`, by address: this one counts there until `settle`. */
    private waiting: Map<string, number> | null,
  ) {}

  /** Uncounts the socket from its address's sockets waiting for `connection_init` (once; on its init or close). */
  settle(): void {
    const { waiting } = this;
    if (!waiting) return;
    this.waiting = null;
    const n = (waiting.get(this.address) ?? 1) - 1;
    if (n > 0) waiting.set(this.address, n);
    else waiting.delete(this.address);
  }
}

type Extra = SocketState;

/** graphql-ws's state of one socket. */
type SocketContext = GraphQLWsContext<Record<string, unknown> | undefined, Extra>;

/** A subscribe message, as graphql-ws's own parser would accept it. */
interface SubscribeMessage {
  id: string;
  payload: OperationParams;
}

/** `text` as a subscribe message, or null when it is anything else (left to graphql-ws, which answers it). */
function subscribeMessage(text: string): SubscribeMessage | null {
  if (!text.includes('"subscribe"')) return null;
  let message: { type?: unknown; id?: unknown; payload?: unknown } | null;
  try {
    message = JSON.parse(text) as typeof message;
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null || message.type !== 'subscribe') return null;
  if (typeof message.id !== 'string' || message.id === '') return null;
  const payload = operationParams(message.payload);
  return payload ? { id: message.id, payload } : null;
}

/** Writes `message` to `socket`; a promise when the socket holds `WAIT_BYTES` unsent, settled once this write is taken. */
function write(socket: WebSocket, message: string): void | Promise<void> {
  if (socket.readyState !== socket.OPEN) return;
  // A socket whose client reads keeps nothing unsent: the writer need not wait (a promise and two
  // closures per delivery). One that holds WAIT_BYTES unsent makes it wait, so its events queue in
  // the hub, which ends it as a slow consumer.
  if (socket.bufferedAmount < WAIT_BYTES) return void socket.send(message);
  return new Promise((resolve, reject) => socket.send(message, (error) => (error ? reject(error) : resolve())));
}

/** What the hub and the stalled-client cut see of a socket (events/subscribe.ts); one per socket, a class for its shared methods. */
class SocketTransport {
  readonly kind = 'ws';
  constructor(private readonly socket: WebSocket) {}
  buffered(): number {
    return this.socket.bufferedAmount;
  }
  close(reason: string): void {
    this.socket.close(4008, reason.slice(0, 120));
  }
}

/** Where a pushed subscription's results go: graphql-ws's messages for its id, written to its socket. */
class SocketSink implements Sink {
  constructor(
    private readonly ctx: SocketContext,
    private readonly id: string,
  ) {}
  next(json: string): void | Promise<void> {
    return write(this.ctx.extra.socket, `{"id":${JSON.stringify(this.id)},"type":"next","payload":${json}}`);
  }
  complete(): void {
    delete this.ctx.subscriptions[this.id];
    void write(this.ctx.extra.socket, JSON.stringify({ id: this.id, type: 'complete' }));
  }
  fail(error: Error): void {
    // What graphql-ws sends for a stream that throws: the error's message.
    delete this.ctx.subscriptions[this.id];
    void write(this.ctx.extra.socket, JSON.stringify({ id: this.id, type: 'error', payload: [{ message: error.message }] }));
  }
}

/** The envelop-wrapped executors, passed to graphql-ws through `rootValue`. */
interface Enveloped {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}

/** Where a shared frame goes in a graphql-ws message (see `splice`). */
const PLACEHOLDER = '\u0000hng-shared-frame';
const QUOTED_PLACEHOLDER = JSON.stringify(PLACEHOLDER);

/** Bytes a socket may hold unsent before graphql-ws waits for each write of it to complete. */
const WAIT_BYTES = 65_536;

/** How often a socket is pinged; one that did not answer the previous ping is cut. @default 12_000 // 12 seconds */
const KEEP_ALIVE_MS = 12_000;

/** How long a socket may take to answer the close of a shutting-down gateway. @default 1_000 */
const CLOSE_GRACE_MS = 1_000;

/**
 * A socket refused more subscriptions than it may hold is not waiting for its
 * answers but flooding (10,000 subscribe messages in a burst held up every
 * other client for most of a second): nothing more it sent is read, the
 * refusals already made are sent, then it is closed (4429).
 */
function cutFlood(socket: WebSocket, refused: number): void {
  socket.pause();
  setImmediate(() => {
    socket.close(4429, `Too many subscriptions: ${refused} refused (HNG_MAX_SUBSCRIPTIONS_PER_SOCKET)`);
    // It is not read any more, so its answer to the close never is: cut it after the grace.
    setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
  });
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason) + 1}\r\n\r\n${reason}\n`,
  );
}

/**
 * graphql-ws's view of a socket (its `WebSocket` interface). A class: one
 * object per socket, its methods shared. A pushed subscription's message
 * (see the module contract) is taken before graphql-ws sees it.
 */
class GraphQLWsSocket {
  readonly protocol: string;

  constructor(
    private readonly state: SocketState,
    private readonly splice: (data: string) => string,
    private readonly push: (ctx: SocketContext, text: string) => Promise<boolean>,
    private readonly log: Log,
  ) {
    this.protocol = state.socket.protocol;
  }

  send(data: string): void | Promise<void> {
    return write(this.state.socket, this.splice(data));
  }

  close(code: number, reason: string): void {
    this.state.socket.close(code, reason);
  }

  onMessage(handle: (data: string) => Promise<void>): void {
    const { state, push, log } = this;
    const { socket } = state;
    socket.on('message', async (data) => {
      // What a socket sent before its close is read out of ws's buffers as it closes: nothing
      // more starts on it (a subscription started now would never be stopped).
      if (socket.readyState !== socket.OPEN) return;
      const text = String(data);
      try {
        if (state.ctx && (await push(state.ctx, text))) return;
        await handle(text);
      } catch (error) {
        log.warn('WebSocket message handling failed', { error: (error as Error).message });
        socket.close(1011, 'Internal server error');
      }
    });
  }
}

/** Serves graphql-ws on `/graphql` of `server`; returns the function that closes every socket. */
export function startWebSockets(options: WsOptions): { close: () => Promise<void> } {
  const { yoga, tokens, sessions, policy, limits, shared, log } = options;
  // A shared frame is serialized once (shared.ts): graphql-ws stringifies the message around it with
  // this replacer, which leaves a placeholder for the payload, and `send` splices the frame in. Both
  // run in one synchronous step of graphql-ws's emit.next, so one slot is enough.
  let frame: string | null = null;
  const jsonMessageReplacer = (key: string, value: unknown) => {
    if (key !== 'payload' || typeof value !== 'object' || value === null || !(FRAME in value)) return value;
    frame = (value as SharedResult)[FRAME].json;
    return PLACEHOLDER;
  };
  const splice = (data: string): string => {
    if (frame === null) return data;
    const at = data.indexOf(QUOTED_PLACEHOLDER);
    const out = at < 0 ? data : `${data.slice(0, at)}${frame}${data.slice(at + QUOTED_PLACEHOLDER.length)}`;
    frame = null;
    return out;
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  // One refusal for every subscription over the limit: an error is costly to make, a flood makes many.
  const tooManySubscriptions = errors.limitExceeded(
    `this socket holds ${limits.maxSubscriptionsPerSocket} subscriptions already`,
    'HNG_MAX_SUBSCRIPTIONS_PER_SOCKET',
  );
  const pending = new Map<string, number>();

  options.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/graphql') return refuse(socket, 404, 'Not Found');
    if (!hostAllowed(policy, req.headers.host)) return refuse(socket, 403, 'Forbidden: host not allowed (HNG_ALLOWED_HOSTS)');
    if (!originAllowed(policy, req.headers.origin, req.headers.host)) {
      log.info('refused a WebSocket from another origin', { origin: req.headers.origin });
      return refuse(socket, 403, 'Forbidden: origin not allowed (HNG_CORS_ORIGINS)');
    }
    const address = req.socket.remoteAddress ?? 'unknown';
    const waiting = pending.get(address) ?? 0;
    if (waiting >= limits.maxPendingPerAddress)
      return refuse(socket, 429, 'Too Many Requests: too many sockets waiting for connection_init');
    pending.set(address, waiting + 1);
    wss.handleUpgrade(req, socket, head, (ws) => connect(new SocketState(ws, address, pending)));
  });

  /**
   * Whether the socket may start one more subscription: it holds fewer than its limit. Counted in
   * a set of its own, pruned of those graphql-ws (or a pushed subscription's end) let go: a flood
   * of subscribe messages costs little each, where counting ctx.subscriptions (which holds every
   * refusal until it is sent) grew with the flood.
   */
  const mayHoldMore = (ctx: SocketContext): boolean => {
    const held = (ctx.extra.held ??= new Set());
    for (const other of held) if (!(other in ctx.subscriptions)) held.delete(other);
    return held.size < limits.maxSubscriptionsPerSocket;
  };

  /** The pipeline of one operation of a socket: parse, validate, its context, the executors. */
  const envelopedFor = (extra: Extra, params: unknown) =>
    yoga.getEnveloped({ socket: extra.socket, params, principal: extra.principal, transport: extra.transport });

  /**
   * Takes a subscribe message whose subscription is shared and pushes it (see the module
   * contract); false leaves the message to graphql-ws.
   */
  const push = async (ctx: SocketContext, text: string): Promise<boolean> => {
    const message = subscribeMessage(text);
    if (!message || !ctx.acknowledged) return false;
    const { id, payload } = message;
    if (id in ctx.subscriptions || !mayHoldMore(ctx)) return false;
    const admitted = shared.admit(envelopedFor(ctx.extra, payload), payload, ctx.extra.principal);
    if (!admitted) return false;
    // Registered as graphql-ws registers its own, before anything is awaited.
    ctx.subscriptions[id] = null;
    ctx.extra.held!.add(id);
    const sink = new SocketSink(ctx, id);
    const joined = await admitted.open(sink);
    if (!isJoined(joined)) {
      // A subscribe that failed (a bad cursor): its errors as a result, then complete, as graphql-ws sends them.
      if (id in ctx.subscriptions) {
        await sink.next(JSON.stringify(joined));
        sink.complete();
      }
      return true;
    }
    if (!(id in ctx.subscriptions)) {
      await joined.return();
      return true;
    }
    ctx.subscriptions[id] = joined;
    joined.start();
    return true;
  };

  const server = makeServer<Record<string, unknown> | undefined, Extra>({
    // The deadline is this module's (`connect`): graphql-ws's timer would stay with the socket for its life.
    connectionInitWaitTimeout: 0,
    jsonMessageReplacer,
    execute: (args: ExecutionArgs) => (args.rootValue as Enveloped).execute(args),
    // The enveloped subscribe: it shares executions (shared.ts, a plugin of the yoga pipeline) as over SSE.
    subscribe: (args: ExecutionArgs) => (args.rootValue as Enveloped).subscribe(args),
    onConnect: async (ctx) => {
      const state = ctx.extra;
      const { socket } = state;
      if (state.initTimer) clearTimeout(state.initTimer);
      state.initTimer = null;
      state.settle();
      const principal = await authenticate(tokens, policy, tokenOfConnectionParams(ctx.connectionParams), state.address);
      if (!('kind' in principal)) {
        const refusal = principal as GatewayError;
        // 1013 (try again later) for a database away: a client retries it, where 4401 is final.
        socket.close(refusal.code === 'DATABASE_UNAVAILABLE' ? 1013 : 4401, refusal.message.slice(0, 120));
        return false;
      }
      try {
        state.endSession = sessions.open(principal, 'ws', (reason) => socket.close(4401, `Unauthorized: ${reason}`));
      } catch (error) {
        socket.close(4429, (error as Error).message.slice(0, 120));
        return false;
      }
      // A socket closed while it was authenticated ends its session now.
      if (socket.readyState !== socket.OPEN) state.endSession();
      state.principal = principal;
      state.transport = new SocketTransport(socket);
      state.ctx = ctx;
      return true;
    },
    onSubscribe: async (ctx, id, params) => {
      // Noted before anything is awaited: a burst cannot slip past.
      if (!mayHoldMore(ctx)) {
        ctx.extra.refused++;
        if (ctx.extra.refused === limits.maxSubscriptionsPerSocket + 1) cutFlood(ctx.extra.socket, ctx.extra.refused);
        return [tooManySubscriptions];
      }
      ctx.extra.held!.add(id);
      const { schema, execute, subscribe, contextFactory, parse, validate } = envelopedFor(ctx.extra, params);
      let document;
      try {
        document = parse(params.query);
      } catch (error) {
        return [error as GraphQLError];
      }
      const validationErrors = validate(schema, document);
      if (validationErrors.length > 0) return validationErrors;
      return {
        schema,
        document,
        operationName: params.operationName,
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe } as Enveloped,
      };
    },
  });
  wss.options.handleProtocols = handleProtocols;

  // One keep-alive for every acknowledged socket: a ping each KEEP_ALIVE_MS; a socket still in
  // `unanswered` at the next round did not answer and is cut. One not acknowledged yet is not
  // pinged: it has its connection_init deadline, and the first frame a client that never sends its
  // init receives is the close that ends it (4408).
  const sockets = new Set<SocketState>();
  const unanswered = new Set<WebSocket>();
  const keepAlive = setInterval(() => {
    for (const { socket, ctx } of sockets) {
      if (!ctx || socket.readyState !== socket.OPEN) continue;
      if (unanswered.has(socket)) {
        log.info('cut a WebSocket that did not answer a ping', { after: `${KEEP_ALIVE_MS} ms` });
        socket.terminate();
        continue;
      }
      unanswered.add(socket);
      socket.ping();
    }
  }, KEEP_ALIVE_MS);
  keepAlive.unref();
  // Functions shared by every socket (ws calls a listener with the socket as `this`).
  function answered(this: WebSocket): void {
    unanswered.delete(this);
  }
  function failed(error: Error): void {
    log.info('WebSocket closed on a socket error', { error: error.message });
  }

  /** Serves graphql-ws on an upgraded socket. */
  const connect = (state: SocketState) => {
    const { socket } = state;
    socket.on('error', failed);
    socket.on('pong', answered);
    const initMs = limits.connectionInitTimeoutMs;
    if (initMs > 0 && Number.isFinite(initMs)) {
      state.initTimer = setTimeout(() => {
        state.initTimer = null;
        // graphql-ws's own code and reason for it.
        socket.close(4408, 'Connection initialisation timeout');
      }, initMs);
    }
    const closed = server.opened(new GraphQLWsSocket(state, splice, push, log), state);
    sockets.add(state);
    // One listener for everything a close ends.
    socket.on('close', (code, reason) => {
      if (state.initTimer) clearTimeout(state.initTimer);
      state.settle();
      state.endSession?.();
      unanswered.delete(socket);
      sockets.delete(state);
      void closed(code, String(reason));
    });
  };

  return {
    async close() {
      // Every socket ends with 1001; one whose client never answers the close is cut after
      // CLOSE_GRACE_MS instead of ws's 30 s.
      const gone = [...wss.clients].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
      for (const socket of wss.clients) socket.close(1001, 'Going away');
      const cut = setTimeout(() => {
        for (const socket of wss.clients) socket.terminate();
      }, CLOSE_GRACE_MS);
      await Promise.all(gone);
      clearTimeout(cut);
      clearInterval(keepAlive);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
