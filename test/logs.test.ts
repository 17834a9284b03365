/**
 * The logs: one JSON record a line, the level by name; secrets never written
 * (values under secret keys redacted at any depth; a URL's password, a
 * Bearer credential, an access_token parameter and the gateway's tokens
 * masked inside any string); an error's stack only at debug level; pino-pretty
 * on one line. Then a real gateway, connected with a DATABASE_URL that holds
 * a password, is refused a bad token over HTTP, SSE and WebSocket, serves a
 * good one, revokes it (its WebSocket and SSE stream end), and drops a
 * notification whose payload is that token: no line it logged holds the
 * password or either token, and the lines that speak of them name them
 * masked.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLog, type Level } from '../src/log.js';
import { BuildQueuedDocument } from '../src/client/generated/operations.js';
import { requestData, subscribeSse, subscribeWs, until, wsClient } from './support/clients.js';
import { doc } from './support/consumers.js';
import { admin, createTestDatabase, notify } from './support/database.js';
import { recordingGateway } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';
import { hasRecord, logRecords, STACK_FRAME } from './support/logs.js';

/** A logger at `level` and the lines it wrote. */
function captured(level: Level = 'info') {
  const lines: string[] = [];
  return { log: createLog(level, (line) => lines.push(line)), lines };
}

describe('createLog', () => {
  it('writes one JSON record a line: the level by name, an ISO time, the fields, the message, and a child’s fields', () => {
    const { log, lines } = captured();
    log.child({ component: 'listener' }).warn('listener connection lost', { error: 'boom', attempt: 2 });
    log.debug('not at info');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const [record] = logRecords(lines);
    expect(record).toEqual({
      level: 'warn',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      component: 'listener',
      error: 'boom',
      attempt: 2,
      msg: 'listener connection lost',
    });
  });

  it('redacts values under secret keys at any depth, and masks secrets inside every string', () => {
    const { log, lines } = captured();
    const token = `hng_${randomBytes(24).toString('base64url')}`;
    log.child({ password: 'child-secret' }).info(`connecting to postgres://hydra:url-secret@db.example.org/hydra with ${token}`, {
      token: 'field-secret',
      request: { headers: { Authorization: 'Bearer header-secret', 'x-trace': 'ok' } },
      connectionParams: { access_token: 'param-secret' },
      conninfo: "host=db user=hydra password='kv-secret' dbname=hydra",
      url: `https://gateway.example.org/graphql?access_token=query-secret&x=1`,
      said: `Authorization: Bearer bearer-secret`,
      list: [{ secret: 'list-secret' }],
    });
    const line = lines.join('\n');
    for (const secret of [
      'child-secret',
      'url-secret',
      token,
      'field-secret',
      'header-secret',
      'param-secret',
      'kv-secret',
      'query-secret',
      'bearer-secret',
      'list-secret',
    ]) {
      expect(line, secret).not.toContain(secret);
    }
    const [record] = logRecords(lines);
    expect(record).toMatchObject({
      password: '[redacted]',
      token: '[redacted]',
      request: { headers: { Authorization: '[redacted]', 'x-trace': 'ok' } },
      connectionParams: { access_token: '[redacted]' },
      conninfo: 'host=db user=hydra password=*** dbname=hydra',
      url: 'https://gateway.example.org/graphql?access_token=***&x=1',
      said: 'Authorization: Bearer ***',
      list: [{ secret: '[redacted]' }],
      msg: 'connecting to postgres://hydra:***@db.example.org/hydra with hng_***',
    });
  });

  it('logs an error as its message, with its stack only at debug level', () => {
    const error = new Error('the database is gone');
    const info = captured('info');
    info.log.error('request failed', { error });
    expect(logRecords(info.lines)[0]).toEqual(expect.objectContaining({ error: 'the database is gone' }));
    expect(info.lines[0]).not.toMatch(STACK_FRAME);

    const debug = captured('debug');
    debug.log.error('request failed', { error });
    expect(logRecords(debug.lines)[0]).toEqual(
      expect.objectContaining({
        error: 'the database is gone',
        errorStack: expect.stringContaining('Error: the database is gone\n    at '),
      }),
    );
    expect(debug.lines).toHaveLength(1);
  });

  it('writes one pretty line per record for a person, secrets masked the same', () => {
    const lines: string[] = [];
    const log = createLog('info', (line) => lines.push(line), { format: 'pretty' });
    log.info('embedded postgres ready', { url: 'postgres://postgres:pretty-secret@127.0.0.1:54329/hydra', postgresPid: 42 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: embedded postgres ready \{"url":"postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:54329\/hydra","postgresPid":42\}$/,
    );
  });

  it('its methods work unbound', () => {
    const { log, lines } = captured('debug');
    const quiet = true;
    (quiet ? log.debug : log.warn)('query pool connection lost', { error: 'x' });
    expect(hasRecord(lines, 'query pool connection lost', { level: 'debug' })).toBe(true);
  });
});

const CREATE_TOKEN = doc<{ createToken: { token: string } }, { name: string }>(
  'mutation ($name: String!) { createToken(name: $name, scope: READ) { token } }',
);
const REVOKE_TOKEN = doc<{ revokeToken: { name: string } }, { name: string }>(
  'mutation ($name: String!) { revokeToken(name: $name) { name } }',
);
const TYPENAME = doc<{ __typename: string }>('query { __typename }');

describe('a gateway', () => {
  it('never logs its database password or a token, good or bad, from start to revocation', async () => {
    // A role of its own, with a password, dropped after the file's database (cleanups run last first).
    const role = `hng_logs_${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    await admin((c) => c.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${password}'`));
    onCleanup(() => admin(async (c) => void (await c.query(`DROP ROLE IF EXISTS ${role}`))));
    const db = await createTestDatabase();
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    const gateway = await recordingGateway(url.toString(), { instance: 'logs' });
    // Sees every build_queued, with the gateway's admin token: the malformed ones never reach it.
    const witness = subscribeWs(wsClient(gateway.url), BuildQueuedDocument);
    await until(() => gateway.hub.size >= 1, 10_000, 'a subscription');

    // A bad token, well-formed, over HTTP, the SSE query parameter and WebSocket.
    const bad = `hng_${randomBytes(24).toString('base64url')}`;
    const post = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bad}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(post.status).toBe(401);
    const get = await fetch(`${gateway.url}?query=${encodeURIComponent('{ __typename }')}&access_token=${bad}`);
    expect(get.status).toBe(401);
    const refused = subscribeWs(wsClient(gateway.url, { token: bad }), BuildQueuedDocument);
    await refused.waitEnded();

    // A good one: created, used over HTTP, WebSocket and SSE, then revoked.
    const name = 'logs-reader';
    const { token: good } = (await requestData(gateway.url, CREATE_TOKEN, { name })).createToken;
    expect(good).toMatch(/^hng_/);
    expect(await requestData(gateway.url, TYPENAME, {}, { token: good })).toEqual({ __typename: 'Query' });
    const ws = subscribeWs(wsClient(gateway.url, { token: good }), BuildQueuedDocument);
    const sse = subscribeSse(gateway.url, BuildQueuedDocument, {}, { token: good });
    await until(() => gateway.sessions.count('ws') >= 1 && gateway.sessions.count('sse') >= 1, 10_000, 'both sessions open');
    await notify(db.pool, [['build_queued', '1']]);
    for (const stream of [ws, sse, witness]) expect((await stream.nextData()).buildQueued.buildId).toBe(1);
    await requestData(gateway.url, REVOKE_TOKEN, { name });
    await ws.waitEnded();
    await sse.waitEnded();

    // Payloads are logged when malformed: a token or a password in one is masked too.
    await notify(db.pool, [
      ['build_queued', good],
      ['build_queued', `postgres://${role}:${password}@db/hydra`],
      ['build_queued', '2'],
    ]);
    expect((await witness.nextData()).buildQueued.buildId).toBe(2);

    const records = logRecords(gateway.logs);
    expect(records).toHaveLength(gateway.logs.length);
    for (const line of gateway.logs) {
      expect(line).not.toContain(password);
      expect(line).not.toContain(good);
      expect(line).not.toContain(bad);
    }
    // What was logged about them, masked.
    expect(records.find((r) => r.msg === 'gateway ready')?.database).toBe(`postgres://${role}:***@${url.host}${url.pathname}`);
    expect(hasRecord(gateway.logs, 'token created', { tokenName: name, scope: 'read' })).toBe(true);
    expect(hasRecord(gateway.logs, 'token revoked', { tokenName: name })).toBe(true);
    for (const transport of ['ws', 'sse']) {
      expect(hasRecord(gateway.logs, 'connection ended', { tokenName: name, transport, reason: 'the token was revoked' }), transport).toBe(
        true,
      );
    }
    expect(hasRecord(gateway.logs, 'dropped malformed notification', { channel: 'build_queued', payload: 'hng_***' })).toBe(true);
    expect(hasRecord(gateway.logs, 'dropped malformed notification', { payload: `postgres://${role}:***@db/hydra` })).toBe(true);
  });
});
