/**
 * Queries and mutations POSTed as JSON, answered without yoga's request
 * pipeline (server/requests.ts), over real HTTP against a real gateway: the
 * answer has the status, media type (for every `Accept` a client sends),
 * CORS headers and body yoga gives (yoga's own answers, for requests it
 * still takes, are the reference); a mutation whose result carries errors
 * runs once and is answered by yoga; what the direct path does not take
 * (a batch, another charset, a syntax error, a subscription) yoga answers as
 * it always has; the token's scope still decides, and a page from another
 * origin still gets no CORS header.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { describe, expect } from 'vitest';
import { regularMediaType } from '../src/server/requests.js';
import { fixtures } from './support/fixtures.js';
import type { TestGateway } from './support/gateway.js';
import { finishBuilds, insertBuild } from './support/hydra.js';

const DASHBOARD = 'https://dashboard.example.org';
const EVIL = 'https://evil.example';
const test = fixtures({ instance: 'requests', corsOrigins: [DASHBOARD] });

const T1 = 1_800_000_000;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** POSTs `body` to the gateway with `headers` (an admin token unless `authorization` is given). */
function post(gateway: TestGateway, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      gateway.url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          authorization: `Bearer ${gateway.adminToken}`,
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** What a client reads of an answer's headers, but its length and date: media type and CORS. */
function visible(headers: IncomingHttpHeaders): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name === 'content-type' || name.startsWith('access-control-')));
}

const QUERY = JSON.stringify({ query: '{ consumers { name } }' });
/** Fails validation, so yoga answers it: the reference for headers. */
const INVALID = JSON.stringify({ query: '{ consumers { noSuchField } }' });

describe('a query POSTed as JSON', () => {
  test("is answered with yoga's status, media type and CORS headers for every Accept, and its body", async ({ gateway }) => {
    const accepts = [
      undefined,
      '*/*',
      'application/json',
      'application/graphql-response+json',
      'application/graphql-response+json, application/json',
      'application/json, application/graphql-response+json',
      'application/json; charset=utf-8',
      'text/html, application/*;q=0.9',
    ];
    for (const accept of accepts) {
      for (const origin of [DASHBOARD, EVIL, undefined]) {
        const headers: Record<string, string> = {};
        if (accept !== undefined) headers.accept = accept;
        if (origin !== undefined) headers.origin = origin;
        const before = gateway.requests.answered;
        const direct = await post(gateway, QUERY, headers);
        expect(gateway.requests.answered, `taken directly (accept ${accept})`).toBe(before + 1);
        const yoga = await post(gateway, INVALID, headers);
        expect(gateway.requests.answered).toBe(before + 1);
        expect(direct.status).toBe(200);
        expect(visible(direct.headers), `accept ${accept}, origin ${origin}`).toEqual(visible(yoga.headers));
        expect(direct.headers['content-type']).toBe(`${regularMediaType(accept)}; charset=utf-8`);
        expect(Number(direct.headers['content-length'])).toBe(Buffer.byteLength(direct.text));
        expect(JSON.parse(direct.text)).toEqual({ data: { consumers: expect.any(Array) } });
        if (origin === DASHBOARD) expect(direct.headers['access-control-allow-origin']).toBe(DASHBOARD);
        else expect(Object.keys(direct.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
      }
    }
  });

  test('a mutation whose result carries errors runs once and is answered by yoga', async ({ gateway, db, jobsetId }) => {
    const id = await insertBuild(db.pool, jobsetId);
    await finishBuilds(db.pool, [id], { stopTime: T1 });
    const { rows } = await db.pool.query('SELECT coalesce(max(id), 0) + 1000 AS id FROM builds');
    const unknown = Number(rows[0].id);
    const body = JSON.stringify({
      query: 'mutation ($items: [AcknowledgeBuildFinishedInput!]!) { acknowledgeBuildsFinished(items: $items) { buildId outcome } }',
      variables: {
        items: [
          { buildId: id, pendingSince: iso(T1) },
          { buildId: unknown, pendingSince: iso(T1) },
        ],
      },
    });
    const before = gateway.requests.answered;
    const answer = await post(gateway, body, { accept: 'application/graphql-response+json' });
    expect(gateway.requests.answered).toBe(before);
    const result = JSON.parse(answer.text) as {
      data: { acknowledgeBuildsFinished: unknown[] };
      errors: { path: unknown[]; extensions: Record<string, unknown> }[];
    };
    // Ran once: a second run would have found the column cleared (ALREADY_ACKNOWLEDGED).
    expect(result.data.acknowledgeBuildsFinished).toEqual([{ buildId: id, outcome: 'ACKNOWLEDGED' }, null]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]!.path).toEqual(['acknowledgeBuildsFinished', 1]);
    expect(result.errors[0]!.extensions.code).toBe('NOT_FOUND');
    expect(result.errors[0]!.extensions.http).toBeUndefined();
    expect(answer.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
  });

  test('what it does not take, yoga answers as before', async ({ gateway }) => {
    const before = gateway.requests.answered;
    const batch = await post(gateway, `[${QUERY}]`);
    expect(batch.status).toBeGreaterThanOrEqual(400);
    expect(batch.text).toMatch(/[Bb]atching is not supported/);
    // Another charset: yoga's to read (this one is ASCII, so it answers it).
    const latin1 = await post(gateway, QUERY, { 'content-type': 'application/json; charset=iso-8859-1' });
    expect(JSON.parse(latin1.text)).toEqual({ data: { consumers: expect.any(Array) } });
    const syntax = await post(gateway, JSON.stringify({ query: '{ consumers {' }), { accept: 'application/graphql-response+json' });
    expect(syntax.status).toBe(400);
    expect(JSON.parse(syntax.text).errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(JSON.parse(syntax.text).errors[0].message).toMatch(/Syntax Error/);
    const subscription = await post(gateway, JSON.stringify({ query: 'subscription { buildQueued { buildId } }' }), {
      accept: 'application/json',
    });
    expect(subscription.status).toBe(406);
    const notJson = await post(gateway, '{"query":', { accept: 'application/json' });
    expect(notJson.status).toBe(400);
    expect(gateway.requests.answered).toBe(before);
  });

  test("the token's scope still decides, and a read-only token cannot acknowledge", async ({ gateway, db, jobsetId }) => {
    const id = await insertBuild(db.pool, jobsetId);
    await finishBuilds(db.pool, [id], { stopTime: T1 });
    const { token: reader } = await gateway.tokens.create({ name: 'requests-reader', scope: 'read' });
    const body = JSON.stringify({
      query: 'mutation ($id: Int!, $since: DateTime!) { acknowledgeBuildFinished(buildId: $id, pendingSince: $since) { outcome } }',
      variables: { id, since: iso(T1) },
    });
    const refused = await post(gateway, body, { authorization: `Bearer ${reader}`, accept: 'application/json' });
    expect(refused.status).toBe(403);
    const result = JSON.parse(refused.text) as { data: unknown; errors: { extensions: { code: string } }[] };
    expect(result.errors[0]!.extensions.code).toBe('FORBIDDEN');
    const { rows } = await db.pool.query('SELECT notificationpendingsince AS p FROM builds WHERE id = $1', [id]);
    expect(Number(rows[0].p)).toBe(T1);
    const read = await post(gateway, QUERY, { authorization: `Bearer ${reader}` });
    expect(JSON.parse(read.text)).toEqual({ data: { consumers: expect.any(Array) } });
  });
});

describe('regularMediaType', () => {
  test("chooses as yoga's result processors do", () => {
    expect(regularMediaType(undefined)).toBe('application/json');
    expect(regularMediaType('*/*')).toBe('application/json');
    expect(regularMediaType('application/graphql-response+json, application/json')).toBe('application/graphql-response+json');
    expect(regularMediaType('application/json, application/graphql-response+json')).toBe('application/json');
    expect(regularMediaType('application/json; charset=latin1')).toBeNull();
    expect(regularMediaType('text/event-stream')).toBeNull();
    expect(regularMediaType('multipart/mixed')).toBeNull();
  });
});
