/**
 * The latency probe's thread (see probe.ts): a subscriber of builds_added
 * over graphql-ws and a Postgres session that sends one builds_added every
 * `everyMs`, its sequence number as the payload. Each event received is
 * posted back with its NOTIFY-to-client latency. It runs in a thread of its
 * own so that what the test's main thread does (an attack's clients) does not
 * delay its timers or its socket: what it measures is the gateway's doing.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import WebSocket from 'ws';

const { url, token, databaseUrl, everyMs } = workerData;
const now = () => performance.timeOrigin + performance.now();
const sentAt = new Map();
let seq = 0;
let timer = null;
let stopping = false;

const db = new pg.Client({ connectionString: databaseUrl, application_name: 'latency-probe' });
db.on('error', () => {});
await db.connect();

const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
socket.on('error', (error) => parentPort.postMessage({ type: 'error', message: error.message }));
socket.on('close', (code) => stopping || parentPort.postMessage({ type: 'closed', code }));
socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { token } })));
socket.on('message', (data) => {
  const message = JSON.parse(data.toString());
  if (message.type === 'connection_ack') {
    const query = 'subscription { queueChanged(kinds: [BUILDS_ADDED]) { lowestNewBuildId } }';
    socket.send(JSON.stringify({ id: 'probe', type: 'subscribe', payload: { query } }));
    timer = setInterval(send, everyMs);
  } else if (message.type === 'next') {
    const received = now();
    const n = message.payload?.data?.queueChanged?.lowestNewBuildId;
    const at = sentAt.get(n);
    if (at === undefined) return;
    sentAt.delete(n);
    parentPort.postMessage({ type: 'sample', seq: n, sentAt: at, latencyMs: received - at });
  } else if (message.type === 'error' || message.type === 'complete') {
    parentPort.postMessage({ type: 'error', message: JSON.stringify(message) });
  }
});

function send() {
  const n = ++seq;
  sentAt.set(n, now());
  db.query('SELECT pg_notify($1, $2)', ['builds_added', String(n)]).catch((error) =>
    parentPort.postMessage({ type: 'error', message: `notify: ${error.message}` }),
  );
}

parentPort.on('message', async (message) => {
  if (message !== 'stop') return;
  stopping = true;
  if (timer) clearInterval(timer);
  // What is still under way arrives within a moment.
  const deadline = Date.now() + 5_000;
  while (sentAt.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  parentPort.postMessage({ type: 'stopped', sent: seq, unanswered: sentAt.size });
  socket.terminate();
  await db.end().catch(() => {});
  parentPort.close();
});
