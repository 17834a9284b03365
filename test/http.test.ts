/**
 * The HTTP surface beside the GraphQL operations: GraphiQL for a browser on
 * /graphql, /healthz and /readyz (reconnect.test.ts has them while the
 * database is out of reach), and how errors reach clients (stable codes for
 * client errors, validation errors over WebSocket).
 */
import { describe, expect } from 'vitest';
import { parse } from 'graphql';
import { BuildQueuedDocument } from '../src/client/generated/operations.js';
import { authorization, request, subscribeWs, until, wsClient } from './support/clients.js';
import { test } from './support/fixtures.js';

describe('http', () => {
  test('serves GraphiQL to a browser on /graphql, wired to WebSocket subscriptions', async ({ gateway }) => {
    const response = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('hydra-notify-gateway');
    expect(html.toLowerCase()).toContain('graphiql');
  });

  test('answers /healthz while alive', async ({ gateway }) => {
    const response = await fetch(gateway.url.replace('/graphql', '/healthz'));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok\n');
  });

  test('answers /readyz once its pool answers and a NOTIFY comes back on its LISTEN connection', async ({ gateway }) => {
    const response = await fetch(gateway.url.replace('/graphql', '/readyz'));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ready\n');
  });

  test('rejects an invalid subscription over WebSocket with a validation error', async ({ gateway }) => {
    const stream = subscribeWs(wsClient(gateway.url), parse('subscription { buildQueued { nope } }') as typeof BuildQueuedDocument);
    await stream.waitEnded();
    expect(JSON.stringify(stream.error)).toContain('Cannot query field \\"nope\\"');
  });

  test('explains a DateTime that is not ISO 8601', async ({ gateway }) => {
    const result = await request(gateway.url, parse('query { build(id: 1) { id } }') as never);
    expect(result.errors).toBeUndefined();
    const bad = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authorization(gateway.url) },
      body: JSON.stringify({ query: 'mutation { acknowledgeBuildFinished(buildId: 1, pendingSince: "yesterday") { outcome } }' }),
    });
    const body = (await bad.json()) as { errors: { message: string; extensions?: { code?: string } }[] };
    expect(body.errors[0]?.message).toContain('ISO 8601');
  });
});

describe('a subscription asked for as one answer', () => {
  test('is refused with 406 and leaves no subscription behind (JSON and multipart)', async ({ gateway }) => {
    const before = gateway.hub.size;
    for (const accept of ['application/json', 'application/graphql-response+json', 'multipart/mixed']) {
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept, ...authorization(gateway.url) },
        body: JSON.stringify({ query: 'subscription { buildQueued { buildId } }' }),
      });
      expect(response.status, accept).toBe(406);
      expect(await response.text(), accept).toContain('Server-Sent Events');
    }
    await until(() => gateway.hub.size === before, 5_000, 'no subscription left');
  });
});
