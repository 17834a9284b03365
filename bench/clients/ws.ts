/**
 * A fleet of graphql-ws subscribers in one process: `ws` sockets speaking the
 * graphql-transport-ws protocol (connection_init → connection_ack, then one
 * `subscribe` per subscription, ids "1".."n" on each socket, pong to ping).
 *
 * Contract: the protocol is spoken by hand rather than through graphql-ws's
 * client so that a `next` frame costs the client two regular expressions,
 * not a JSON parse: on two cores the clients' CPU is taken from the server
 * under test. The same client serves every server, and a sample of frames is
 * parsed in full and checked (`validate`). Handshakes are limited to
 * `concurrency` at once, so the servers' accept backlog never overflows.
 */
import WebSocket from 'ws';
import { runClientChild, type OpenPlan, type Sink, type Transport } from './runtime.js';

const ID = /"id":"(\d+)"/;
const BUILD_ID = /"buildId":(\d+)/;

function validate(raw: string): number | null {
  try {
    const frame = JSON.parse(raw) as {
      payload?: { data?: { buildStarted?: { buildId?: number; build?: { jobset?: { project?: { name?: unknown } } } } } };
    };
    const event = frame.payload?.data?.buildStarted;
    return typeof event?.build?.jobset?.project?.name === 'string' && typeof event.buildId === 'number' ? event.buildId : null;
  } catch {
    return null;
  }
}

const sockets: WebSocket[] = [];

function openSocket(plan: OpenPlan, index: number, sink: Sink): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(plan.url.replace(/^http/, 'ws'), 'graphql-transport-ws', { perMessageDeflate: false });
    sockets.push(socket);
    const base = index * plan.subsPerSocket;
    let acked = false;
    socket.on('open', () => socket.send('{"type":"connection_init"}'));
    socket.on('error', (error) => {
      if (!acked) reject(error);
    });
    socket.on('close', (code, reason) => {
      if (!acked) reject(new Error(`closed ${code} ${String(reason)} before connection_ack`));
      else for (let s = 0; s < plan.subsPerSocket; s++) sink.ended(base + s, `socket closed ${code} ${String(reason)}`);
    });
    socket.on('message', (data) => {
      const text = String(data);
      if (text.includes('"type":"next"')) {
        const id = Number(ID.exec(text)?.[1] ?? 0);
        const buildId = BUILD_ID.exec(text);
        if (buildId && id >= 1) sink.delivery(base + id - 1, Number(buildId[1]), text);
        if (text.includes('"errors"')) sink.error(base + id - 1, text.slice(0, 300));
        return;
      }
      const message = JSON.parse(text) as { type: string; id?: string; payload?: unknown };
      if (message.type === 'connection_ack') {
        acked = true;
        const query = JSON.stringify(plan.query);
        for (let s = 1; s <= plan.subsPerSocket; s++) socket.send(`{"id":"${s}","type":"subscribe","payload":{"query":${query}}}`);
        resolve();
      } else if (message.type === 'ping') socket.send('{"type":"pong"}');
      else if (message.type === 'error')
        sink.ended(base + Number(message.id) - 1, `error ${JSON.stringify(message.payload).slice(0, 300)}`);
      else if (message.type === 'complete') sink.ended(base + Number(message.id) - 1, 'complete');
    });
  });
}

const transport: Transport = {
  async open(plan, sink) {
    let next = 0;
    let failed = 0;
    let firstError: string | null = null;
    await Promise.all(
      Array.from({ length: Math.min(plan.concurrency, plan.sockets) }, async () => {
        while (next < plan.sockets) {
          const index = next++;
          await openSocket(plan, index, sink).catch((error: Error) => {
            failed++;
            firstError ??= error.message;
          });
        }
      }),
    );
    return { failed, firstError };
  },
  validate,
  async close() {
    for (const socket of sockets) socket.terminate();
  },
};

runClientChild(transport);
