/**
 * A raw LISTEN client in a process of its own: the floor for receiving a
 * burst of notifications. It counts what arrives on one channel and reports
 * when it has received the expected number.
 *
 * Contract: `BENCH_DATABASE_URL` and `BENCH_CHANNEL` from the environment;
 * requests `expect` (`count`: resets the counter; the event `received`
 * follows once `count` notifications arrived, with the arrival times of the
 * first and the last), `report` and `stop`. It does nothing with the payloads
 * but count them.
 */
import pg from 'pg';
import { nowUs } from '../support/clock.js';
import { emit, serveParent } from '../support/ipc.js';

const url = process.env.BENCH_DATABASE_URL;
const channel = process.env.BENCH_CHANNEL;
if (!url || !channel) throw new Error('BENCH_DATABASE_URL and BENCH_CHANNEL are required');

const client = new pg.Client({ connectionString: url, application_name: 'bench-raw-listen' });
let expected = Infinity;
let count = 0;
let firstUs: number | null = null;
let lastUs: number | null = null;

client.on('notification', () => {
  const at = nowUs();
  firstUs ??= at;
  lastUs = at;
  if (++count === expected) emit('received', { count, firstUs, lastUs });
});

serveParent({
  expect: (request) => {
    expected = Number(request.count);
    count = 0;
    firstUs = null;
    lastUs = null;
    return true;
  },
  report: () => ({ count, firstUs, lastUs }),
  status: () => true,
  stop: async () => {
    await client.end();
    setImmediate(() => process.exit(0));
  },
});

await client.connect();
await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
emit('listening');
