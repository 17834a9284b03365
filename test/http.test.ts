/**
 * The HTTP surface beside the GraphQL operations: GraphiQL for a browser on
 * /graphql, the health check, and how errors reach clients (stable codes for
 * client errors, validation errors over WebSocket).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'graphql';
import { BuildQueuedDocument } from './generated/operations.js';
import { authorization, request, subscribeWs, wsClient } from './support/clients.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';

let db: TestDatabase;
let gateway: TestGateway;

beforeAll(async () => {
  db = await createTestDatabase();
  gateway = await startTestGateway(db.url);
});

describe('http', () => {
  it('serves GraphiQL to a browser on /graphql, wired to WebSocket subscriptions', async () => {
    const response = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('hydra-notify-gateway');
    expect(html.toLowerCase()).toContain('graphiql');
  });

  it('answers /healthz while listening', async () => {
    const response = await fetch(gateway.url.replace('/graphql', '/healthz'));
    expect(response.status).toBe(200);
  });

  it('rejects an invalid subscription over WebSocket with a validation error', async () => {
    const stream = subscribeWs(wsClient(gateway.url), parse('subscription { buildQueued { nope } }') as typeof BuildQueuedDocument);
    await stream.waitEnded();
    expect(JSON.stringify(stream.error)).toContain('Cannot query field \\"nope\\"');
  });

  it('explains a DateTime that is not ISO 8601', async () => {
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
