/**
 * Hostile documents and transports against a gateway process (the start
 * command, default limits), each attack repeated for a while, while a
 * subscriber's NOTIFY-to-client latency is measured without pause by a probe
 * in a thread of its own (support/probe.ts). The attacks: an alias bomb of
 * 10,000 `build` (over HTTP and over a WebSocket), 2,000 aliases of
 * `events(first: 100)`, documents of 1,000,000 tokens, 2,000 levels of
 * nesting, a deep fragment cycle, a 50 MB body, 10,000 subscriptions on one
 * socket, 5,000 sockets that never send `connection_init` (from one address,
 * then from 100), frames over 1 MiB.
 *
 * What must hold: each is refused quickly with its documented answer
 * (LIMIT_EXCEEDED naming its setting, 413, close 1009, 429 or 4408; a socket
 * that floods subscribe messages past its limit is closed with 4429), never a
 * masked error; and the probe's p99 latency during each attack stays within
 * 5x its p99 when nothing else goes on + 50 ms, no probe lost. The machine is
 * shared with other work, so "nothing else" is every quiet moment of the run
 * pooled (3 s first, 1.5 s before each attack), and an attack over the bound
 * is measured once more (both reported, the better counts): another
 * process's burst may exceed it once, a stall of the gateway's does twice.
 * Each attacker waits for its answer before its next request: what is
 * measured is what one hostile request costs, not a flood of volume (that is
 * for rate limits). The figures are printed and written to the temp dir. The
 * test process stays under its open-file limit (~20,000): at most 5,000
 * sockets at a time.
 */
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { until } from '../support/clients.js';
import { runCli } from '../support/command.js';
import { test } from '../support/fixtures.js';
import { onCleanup } from '../support/gateway.js';
import { shareAdminToken, startChildGateway } from '../support/child.js';
import { report, summary } from './support/figures.js';
import { clock, LatencyProbe } from './support/probe.js';

/** How long each repeated attack goes on. */
const WINDOW_MS = 3_000;
/** The bound on a subscriber's p99 latency during an attack: RATIO x its baseline p99 + SLACK_MS. */
const RATIO = 5;
const SLACK_MS = 50;
/** The graphql-ws subprotocol. */
const PROTOCOL = 'graphql-transport-ws';

/** What one attack did and was answered. */
interface Attack {
  /** When the attack proper began, if not when `run` was called (what came before is reported in `notes`). */
  from?: number;
  operations: number;
  /** Answers by kind (`200 LIMIT_EXCEEDED HNG_MAX_TOKENS`, `413 …`, `close 1009`, …), with how many. */
  answers: Record<string, number>;
  /** How long each answer took (ms). */
  answerMs: number[];
  notes?: Record<string, unknown>;
}

function tally(answers: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
  return counts;
}

/**
 * Runs `op` in `concurrency` loops for `windowMs`, each waiting for its answer
 * before the next (one attacker, as fast as it is answered: a flood of volume
 * is for rate limits, this is about what one hostile request costs);
 * collects each answer and its time.
 */
async function repeat(op: () => Promise<string>, concurrency = 1, windowMs = WINDOW_MS): Promise<Attack> {
  const answers: string[] = [];
  const answerMs: number[] = [];
  const end = Date.now() + windowMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t0 = clock();
        answers.push(await op());
        answerMs.push(clock() - t0);
      }
    }),
  );
  return { operations: answers.length, answers: tally(answers), answerMs };
}

/** POSTs `body` (a JSON text) as it is; answers `<status> <code> <setting>` of its first error. */
async function post(url: string, token: string, body: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  const text = await response.text();
  try {
    const error = (JSON.parse(text) as { errors?: { message: string; extensions?: { code?: string; setting?: string } }[] }).errors?.[0];
    return `${response.status} ${error?.extensions?.code ?? 'no error'} ${error?.extensions?.setting ?? ''}`.trim();
  } catch {
    return `${response.status} ${text.slice(0, 60)}`;
  }
}

/** A body of `bytes` announced by Content-Length, written as fast as the gateway takes it; answers its status and code. */
async function hugeBody(url: string, token: string, bytes: number): Promise<{ answer: string; written: number }> {
  return new Promise((resolve) => {
    let written = 0;
    let answered = false;
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': bytes, authorization: `Bearer ${token}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          answered = true;
          const setting = /"setting":"(\w+)"/.exec(body)?.[1] ?? '';
          const code = /"code":"(\w+)"/.exec(body)?.[1] ?? '';
          req.destroy();
          resolve({ answer: `${res.statusCode} ${code} ${setting}`.trim(), written });
        });
      },
    );
    req.on('error', (error) => !answered && resolve({ answer: `error ${error.message}`, written }));
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const write = () => {
      while (!answered && written < bytes && !req.destroyed) {
        written += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
    };
    write();
  });
}

/** A graphql-ws socket that has been acknowledged; `messages` collects what it is sent. */
async function ackedSocket(url: string, token: string) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), PROTOCOL, { maxPayload: 64 * 1024 * 1024 });
  onCleanup(async () => socket.terminate());
  const messages: { id?: string; type: string; payload?: unknown }[] = [];
  const closed = new Promise<string>((resolve) => socket.once('close', (code, reason) => resolve(`close ${code} ${reason}`.trim())));
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { token } })));
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id?: string; type: string; payload?: unknown };
      if (message.type === 'connection_ack') resolve();
      else messages.push(message);
    });
  });
  return { socket, messages, closed };
}

/**
 * A raw WebSocket upgrade that never sends `connection_init`, from
 * `localAddress`; resolves how it was answered once it is, and `closed` with
 * the close code the gateway sends later (4408) for one that was upgraded.
 */
function silentSocket(port: number, localAddress: string): { answered: Promise<string>; closed: Promise<string>; socket: Socket } {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  let data = Buffer.alloc(0);
  let answer!: (a: string) => void;
  let close!: (a: string) => void;
  const answered = new Promise<string>((resolve) => (answer = resolve));
  const closed = new Promise<string>((resolve) => (close = resolve));
  socket.on('connect', () =>
    socket.write(
      `GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${PROTOCOL}\r\n\r\n`,
    ),
  );
  socket.on('data', (chunk: Buffer) => {
    data = Buffer.concat([data, chunk]);
    const head = data.indexOf('\r\n\r\n');
    if (head < 0) return;
    const status = data.subarray(0, data.indexOf('\r\n')).toString('latin1').split(' ')[1]!;
    answer(status);
    const frame = data.subarray(head + 4);
    // A close frame from the server: 0x88, its length, then the code.
    if (frame.length >= 4 && frame[0] === 0x88) {
      close(`close ${frame.readUInt16BE(2)}`);
      socket.destroy();
    }
  });
  socket.on('error', (error) => answer(`error ${error.message}`));
  socket.on('close', () => {
    answer('closed before an answer');
    close('closed without a close frame');
  });
  onCleanup(async () => void socket.destroy());
  return { answered, closed, socket };
}

/** `count` silent sockets from `addresses` in turn, opened in batches so the listen backlog keeps up; answers their upgrades and their closes. */
async function silentSockets(port: number, count: number, addresses: readonly string[]): Promise<Attack> {
  const answers: string[] = [];
  const answerMs: number[] = [];
  const closes: Promise<string>[] = [];
  const closeMs: number[] = [];
  const upgradedAt: number[] = [];
  for (let i = 0; i < count; i += 250) {
    const batch = Array.from({ length: Math.min(250, count - i) }, (_, k) => {
      const t0 = clock();
      const s = silentSocket(port, addresses[(i + k) % addresses.length]!);
      return s.answered.then((answer) => {
        answerMs.push(clock() - t0);
        answers.push(answer === '101' ? '101 upgraded' : answer);
        if (answer === '101') {
          const at = clock();
          upgradedAt.push(at);
          closes.push(s.closed.then((c) => (closeMs.push(clock() - at), c)));
        } else s.socket.destroy();
      });
    });
    await Promise.all(batch);
  }
  const closeCodes = await Promise.all(closes);
  return {
    operations: count,
    answers: { ...tally(answers), ...Object.fromEntries(Object.entries(tally(closeCodes)).map(([k, v]) => [`then ${k}`, v])) },
    answerMs,
    notes: { upgraded: upgradedAt.length, closeAfterUpgradeMs: closeMs.length ? summary(closeMs) : null },
  };
}

describe('hostile documents and transports', () => {
  test('each refused quickly with its documented answer, while a subscriber keeps its latency', async ({ db }) => {
    const gateway = await startChildGateway(db.url, { HNG_LOG_LEVEL: 'warn' });
    const admin = await shareAdminToken([gateway]);
    const created = await runCli(['tokens', 'create', '--name', 'attacker', '--scope', 'read'], gateway.vars);
    expect(created.code).toBe(0);
    const attacker = created.stdout.trim();
    const port = Number(new URL(gateway.url).port);
    const { url } = gateway;

    const probe = await LatencyProbe.start({ url, token: admin, databaseUrl: db.url });
    const settle = async (after: number) => until(() => probe.samples.some((s) => s.sentAt > after), 30_000, 'the probe past the window');
    // The baseline: the same probe, nothing else going on.
    const baselineFrom = clock();
    await until(() => clock() - baselineFrom >= 3_000, 10_000, 'three seconds of baseline');
    const baselineTo = clock();
    await settle(baselineTo);
    const baseline = summary(probe.between(baselineFrom, baselineTo));

    const documents = {
      aliasesOfBuild: `{ ${Array.from({ length: 10_000 }, (_, i) => `b${i}: build(id: 1) { id }`).join(' ')} }`,
      aliasesOfEvents: `{ ${Array.from({ length: 2_000 }, (_, i) => `e${i}: events(first: 100) { edges { cursor } }`).join(' ')} }`,
      // One token a byte: 1,000,000 tokens within the 1 MiB body limit.
      millionTokens: `{ build(id: [${'[]'.repeat(499_990)}]) { id } }`,
      // The same number of tokens as a person would write them: 3 MB.
      millionTokensSpaced: `{ build(id: 1) { ${'id '.repeat(1_000_000)}} }`,
      nestedSelections: `{ ${'a { '.repeat(2_000)}b${' }'.repeat(2_000)} }`,
      nestedLists: `{ build(id: ${'['.repeat(2_000)}1${']'.repeat(2_000)}) { id } }`,
      nestedObjects: `{ events(first: 1, filter: ${'{ project: '.repeat(2_000)}"x"${' }'.repeat(2_000)}) { edges { cursor } } }`,
      fragmentCycle: `{ ...F0 } ${Array.from({ length: 500 }, (_, i) => `fragment F${i} on Query { ...F${(i + 1) % 500} }`).join(' ')}`,
    };
    const body = (query: string) => JSON.stringify({ query });

    /** Each attack, and the answers it must get (each answer must match one). */
    const attacks: { name: string; run: () => Promise<Attack>; expected: RegExp[] }[] = [
      {
        name: 'alias bomb: 10,000 aliases of build (HTTP)',
        run: () => repeat(() => post(url, attacker, body(documents.aliasesOfBuild))),
        expected: [/^200 LIMIT_EXCEEDED HNG_MAX_(TOKENS|ALIASES)$/],
      },
      {
        name: 'alias bomb: 10,000 aliases of build (WebSocket)',
        run: async () => {
          const { socket, messages } = await ackedSocket(url, attacker);
          let n = 0;
          const attack = await repeat(async () => {
            const id = String(n++);
            socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: documents.aliasesOfBuild } }));
            await until(() => messages.some((m) => m.id === id), 30_000, `subscribe ${id} answered`);
            const m = messages.find((x) => x.id === id)!;
            const error = (m.payload as { extensions?: { code?: string; setting?: string } }[])[0];
            return `${m.type} ${error?.extensions?.code} ${error?.extensions?.setting}`;
          });
          socket.terminate();
          return attack;
        },
        expected: [/^error LIMIT_EXCEEDED HNG_MAX_(TOKENS|ALIASES)$/],
      },
      {
        name: '2,000 aliases of events(first: 100)',
        run: () => repeat(() => post(url, attacker, body(documents.aliasesOfEvents))),
        expected: [/^200 LIMIT_EXCEEDED HNG_MAX_(TOKENS|ALIASES|COST)$/],
      },
      {
        name: 'a document of 1,000,000 tokens (1 MB)',
        run: () => repeat(() => post(url, attacker, body(documents.millionTokens))),
        expected: [/^200 LIMIT_EXCEEDED HNG_MAX_TOKENS$/],
      },
      {
        name: 'a document of 1,000,000 tokens (3 MB)',
        run: () => repeat(() => post(url, attacker, body(documents.millionTokensSpaced))),
        expected: [/^413 LIMIT_EXCEEDED HNG_MAX_BODY_BYTES$/],
      },
      {
        name: '2,000 levels of nesting (selections, lists, objects)',
        run: () => {
          const nested = [documents.nestedSelections, documents.nestedLists, documents.nestedObjects];
          let i = 0;
          return repeat(() => post(url, attacker, body(nested[i++ % 3]!)));
        },
        expected: [/^200 LIMIT_EXCEEDED HNG_MAX_(DEPTH|TOKENS)$/],
      },
      {
        name: 'a fragment cycle 500 fragments deep',
        run: () => repeat(() => post(url, attacker, body(documents.fragmentCycle))),
        expected: [/^200 LIMIT_EXCEEDED HNG_MAX_(COST|DEPTH|TOKENS)$/, /^200 GRAPHQL_VALIDATION_FAILED$/],
      },
      {
        name: 'a 50 MB body',
        run: async () => {
          const written: number[] = [];
          const attack = await repeat(async () => {
            const { answer, written: w } = await hugeBody(url, attacker, 50 * 1024 * 1024);
            written.push(w);
            return answer;
          });
          return { ...attack, notes: { bytesWrittenBeforeTheAnswer: summary(written.map((w) => w / 1024 / 1024)), unit: 'MiB' } };
        },
        expected: [/^413 LIMIT_EXCEEDED HNG_MAX_BODY_BYTES$/],
      },
      {
        name: '10,000 subscriptions on one socket',
        run: async () => {
          const { socket, messages, closed } = await ackedSocket(url, attacker);
          const query = 'subscription { queueChanged(kinds: [BUILDS_ADDED]) { lowestNewBuildId } }';
          // Its allowance first, waited for, as a client with many subscriptions would: permitted load, reported apart.
          const allowedFrom = clock();
          for (let i = 0; i < 100; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query } }));
          await until(
            () => new Set(messages.filter((m) => m.type === 'next').map((m) => m.id)).size === 100,
            30_000,
            '100 subscriptions receiving',
          );
          const allowedTo = clock();
          await settle(allowedTo);
          // Then the rest, in a burst: refused; a socket that goes on is closed (4429), what else it sent unread.
          const t0 = clock();
          let firstRefusal = 0;
          const refusal = until(() => messages.some((m) => m.type === 'error'), 30_000, 'the first refusal').then(
            () => (firstRefusal = clock() - t0),
          );
          for (let i = 100; i < 10_000; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query } }));
          const close = await closed;
          await refusal;
          const ms = clock() - t0;
          return {
            from: t0,
            operations: 10_000,
            answers: {
              'accepted (received events)': new Set(messages.filter((m) => m.type === 'next').map((m) => m.id)).size,
              ...tally(
                messages
                  .filter((m) => m.type === 'error')
                  .map((m) => {
                    const error = (m.payload as { extensions?: { code?: string; setting?: string } }[])[0];
                    return `error ${error?.extensions?.code} ${error?.extensions?.setting}`;
                  }),
              ),
              [close.replace(/:.*/, '')]: 1,
            },
            answerMs: [firstRefusal],
            notes: {
              firstRefusalMs: Math.round(firstRefusal),
              closedAfterMs: Math.round(ms),
              close,
              whileItsFirst100Started: { ms: Math.round(allowedTo - allowedFrom), latency: summary(probe.between(allowedFrom, allowedTo)) },
            },
          };
        },
        expected: [
          /^accepted \(received events\)$/,
          /^error LIMIT_EXCEEDED HNG_MAX_SUBSCRIPTIONS_PER_SOCKET$/,
          /^close 4429 Too many subscriptions$/,
        ],
      },
      {
        name: '5,000 sockets that never send connection_init, from one address',
        run: () => silentSockets(port, 5_000, ['127.0.0.1']),
        expected: [/^101 upgraded$/, /^429$/, /^then close 4408$/],
      },
      {
        name: '5,000 sockets that never send connection_init, from 100 addresses',
        run: () =>
          silentSockets(
            port,
            5_000,
            Array.from({ length: 100 }, (_, i) => `127.0.${1 + Math.floor(i / 200)}.${(i % 200) + 2}`),
          ),
        expected: [/^101 upgraded$/, /^then close 4408$/],
      },
      {
        name: 'frames over 1 MiB',
        run: () => {
          const frame = JSON.stringify({ id: 'big', type: 'subscribe', payload: { query: `{ __typename } #${'x'.repeat(1024 * 1024)}` } });
          return repeat(async () => {
            const { socket, closed } = await ackedSocket(url, attacker);
            socket.send(frame);
            return closed;
          });
        },
        expected: [/^close 1009$/],
      },
    ];

    const results: Record<string, unknown>[] = [];
    const quiet: [number, number][] = [[baselineFrom, baselineTo]];
    const quietLatencies = () => quiet.flatMap(([from, to]) => probe.between(from, to));
    for (const attack of attacks) {
      const attempts: Record<string, unknown>[] = [];
      // Another process's burst on this shared machine can exceed the bound alone: an attack over it is
      // measured once more, and the better of the two counts (both are reported). A real stall fails both.
      for (let attempt = 1; attempt <= 2; attempt++) {
        // A quiet moment before each attack too: the baseline pools them all (see below).
        const quietFrom = clock();
        await until(() => clock() - quietFrom >= 1_500, 10_000, 'a quiet moment');
        quiet.push([quietFrom, clock()]);
        const started = clock();
        const figures = await attack.run();
        const from = figures.from ?? started;
        const to = clock();
        await settle(to);
        const latency = summary(probe.between(from, to));
        attempts.push({ ...figures, answerMs: summary(figures.answerMs), latency });
        if (latency.p99 <= RATIO * summary(quietLatencies()).p99 + SLACK_MS) break;
      }
      const best = attempts.reduce((x, y) => ((x.latency as { p99: number }).p99 <= (y.latency as { p99: number }).p99 ? x : y));
      results.push({
        attack: attack.name,
        ...best,
        attempts: attempts.length,
        ...(attempts.length > 1 ? { latencyOfEachAttempt: attempts.map((x) => x.latency) } : {}),
      });
    }
    // The machine is shared with other work: the baseline is every quiet moment of the run pooled,
    // interleaved with the attacks, so that whatever else loads the machine weighs on both alike.
    const pooled = summary(quietLatencies());
    const bound = RATIO * pooled.p99 + SLACK_MS;
    for (const r of results) r.bound = bound;
    await probe.stop();
    const healthz = (await fetch(url.replace('/graphql', '/healthz'))).status;
    const oversizeTraces = (gateway.command.stderr.match(/Max payload size exceeded/g) ?? []).length;

    report('hostile', {
      baseline: { first3s: baseline, pooledQuietMoments: pooled, bound: `${RATIO} x ${pooled.p99} + ${SLACK_MS} = ${bound} ms` },
      probe: { ...probe.result, samples: probe.samples.length, problems: probe.problems },
      attacks: results,
      healthzAfter: healthz,
      gatewayStderrLinesOnOversizeFrames: oversizeTraces,
    });

    for (const [i, attack] of attacks.entries()) {
      const result = results[i] as {
        attack: string;
        answers: Record<string, number>;
        latency: { p99: number; n: number };
        bound: number;
        answerMs: { p50: number };
      };
      // Each answer is a documented one; the latency of the subscriber stays within the bound.
      for (const answer of Object.keys(result.answers)) {
        expect([attack.name, answer, attack.expected.some((e) => e.test(answer))]).toEqual([attack.name, answer, true]);
      }
      expect([attack.name, result.latency.n > 0, result.latency.p99 <= result.bound]).toEqual([attack.name, true, true]);
      expect([attack.name, result.answerMs.p50 < 1_000]).toEqual([attack.name, true]);
    }
    const [, , , , , , , , subscriptions, oneAddress, manyAddresses] = results as { answers: Record<string, number> }[];
    // 100 accepted; then refused, and refused 100 times over, closed, most of the flood never read.
    expect(subscriptions!.answers['accepted (received events)']).toBe(100);
    expect(subscriptions!.answers['close 4429 Too many subscriptions']).toBe(1);
    expect(subscriptions!.answers['error LIMIT_EXCEEDED HNG_MAX_SUBSCRIPTIONS_PER_SOCKET']).toBeGreaterThan(100);
    expect(subscriptions!.answers['error LIMIT_EXCEEDED HNG_MAX_SUBSCRIPTIONS_PER_SOCKET']).toBeLessThan(9_900);
    expect(oneAddress!.answers).toEqual({ '101 upgraded': 50, '429': 4_950, 'then close 4408': 50 });
    expect(manyAddresses!.answers).toEqual({ '101 upgraded': 5_000, 'then close 4408': 5_000 });
    expect(probe.result).toMatchObject({ unanswered: 0 });
    expect(probe.problems).toEqual([]);
    expect(healthz).toBe(200);
  }, 300_000);
});
