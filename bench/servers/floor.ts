/**
 * The raw floor: the least this stack can do to serve the fan-out
 * subscription. One `pg` client LISTENs on build_started; per notification a
 * second client loads the row with one prepared statement (builds joined to jobsets),
 * the result is serialised once, and every subscriber gets those bytes,
 * wrapped in its graphql-ws `next` frame (a `ws` server speaking just enough
 * of the graphql-transport-ws protocol: init/ack, ping/pong,
 * subscribe/complete) or written as an SSE event by a bare `http` server.
 *
 * Contract: it knows one document (FANOUT_QUERY) and does not parse or
 * validate what clients send; it journals nothing, has no resumption and no
 * slow-client policy. It is the physical floor the gateway is compared to,
 * not a competitor. Events are loaded and sent in the order Postgres delivered
 * them (one loading client, whose statements Postgres answers in order).
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { WebSocketServer, type WebSocket } from 'ws';
import { runServerChild } from './child.js';
import { buildStartedPayload, type FanoutRow, nextFramePrefix, sseNext } from './frames.js';

const ROW_SQL = `/* floorRow */ SELECT b.id, b.job, b.system, j.name AS jobset, j.project
  FROM builds b JOIN jobsets j ON j.id = b.jobset_id WHERE b.id = $1`;

runServerChild(async (connectionString) => {
  const listen = new pg.Client({ connectionString, application_name: 'bench-floor-listen' });
  const rows = new pg.Client({ connectionString, application_name: 'bench-floor-rows' });
  await listen.connect();
  await rows.connect();

  const wsSubscribers = new Map<WebSocket, Map<string, string>>(); // socket → id → frame prefix
  const sseSubscribers = new Set<ServerResponse>();

  // Own queue for the loading client: pg is never handed a query while busy.
  let loading: Promise<void> = Promise.resolve();
  listen.on('notification', (message) => {
    const buildId = Number(message.payload);
    loading = loading.then(
      async () => {
        const { rows: found } = await rows.query<FanoutRow>({ name: 'floorRow', text: ROW_SQL, values: [buildId] });
        const payload = buildStartedPayload(buildId, found[0] ?? null);
        for (const [socket, subscriptions] of wsSubscribers) {
          for (const prefix of subscriptions.values()) socket.send(prefix + payload + '}');
        }
        if (sseSubscribers.size > 0) {
          const event = sseNext(payload);
          for (const response of sseSubscribers) response.write(event);
        }
      },
      () => {},
    );
  });
  await listen.query('LISTEN build_started');

  const server = createServer((request, response) => {
    if (request.method !== 'POST' || !(request.headers.accept ?? '').includes('text/event-stream')) {
      response.writeHead(404).end();
      return;
    }
    request.resume();
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    response.write(':\n\n');
    sseSubscribers.add(response);
    response.on('close', () => sseSubscribers.delete(response));
  });
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false),
  });
  wss.on('connection', (socket) => {
    const subscriptions = new Map<string, string>();
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; id?: string };
      if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
      else if (message.type === 'ping') socket.send('{"type":"pong"}');
      else if (message.type === 'subscribe' && message.id !== undefined) {
        subscriptions.set(message.id, nextFramePrefix(message.id));
        wsSubscribers.set(socket, subscriptions);
      } else if (message.type === 'complete' && message.id !== undefined) subscriptions.delete(message.id);
    });
    socket.on('close', () => wsSubscribers.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    async close() {
      for (const socket of wsSubscribers.keys()) socket.terminate();
      for (const response of sseSubscribers) response.destroy();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([listen.end(), rows.end()]);
    },
  };
});
