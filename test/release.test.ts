/**
 * A query's context is released once it has executed (server/release.ts):
 * scope-auth's cache no longer holds the scopes it decided for it, so nothing
 * long-lived refers to the context, its loaders and their rows (why that
 * matters to the young generation: bench/probes/weakmap-cycle.ts). The real
 * schema and its scope-auth run in graphql-yoga over the file's Postgres; a
 * plugin registered before the release reads the cache's entry as the
 * execution ends, and the test compares it with what the cache holds after
 * the answer. Without the release the two are the same entry, which the
 * second case shows, so the first can fail.
 */
import { RequestCache } from '@pothos/plugin-scope-auth';
import { createYoga, type Plugin } from 'graphql-yoga';
import type pg from 'pg';
import { describe, expect } from 'vitest';
import type { Principal } from '../src/auth/principal.js';
import { createLoaders } from '../src/hydra/loaders.js';
import { builder } from '../src/schema/builder.js';
import { schema } from '../src/schema/index.js';
import { useContextRelease } from '../src/server/release.js';
import { fixtures } from './support/fixtures.js';
import { insertBuild } from './support/hydra.js';

const test = fixtures();

const READER: Principal = {
  kind: 'token',
  tokenId: 1,
  name: 'reader',
  scope: 'read',
  consumers: null,
  expiresAt: null,
  limitKey: 'reader',
};

/** Runs `build(id:)` through a pipeline whose plugins are `plugins`; the cache's entry for its context as the execution ended, and after the answer. */
async function cacheEntries(db: pg.Pool, id: number, plugins: Plugin[]): Promise<{ during: unknown; after: unknown }> {
  let context: object | null = null;
  let during: unknown = null;
  const witness: Plugin = {
    onExecute: ({ args }) => ({
      onExecuteDone: () => {
        context = args.contextValue as object;
        during = RequestCache.fromContext(context as never, builder as never);
      },
    }),
  };
  const yoga = createYoga({
    schema,
    plugins: [witness, ...plugins],
    context: () => ({ db, loaders: createLoaders(db), principal: READER }),
  });
  const response = await yoga.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'query ($id: Int!) { build(id: $id) { id job } }', variables: { id } }),
  });
  expect(await response.json()).toEqual({ data: { build: { id, job: 'released' } } });
  return { during, after: RequestCache.fromContext(context! as never, builder as never) };
}

describe('a query context', () => {
  test('is released from the scope cache once the query has executed', async ({ db, jobsetId }) => {
    const id = await insertBuild(db.pool, jobsetId, { job: 'released' });
    const { during, after } = await cacheEntries(db.pool, id, [useContextRelease()]);
    expect(during).toBeInstanceOf(RequestCache);
    expect(after).not.toBe(during);
  });

  test('without the release, stays in the scope cache after its answer', async ({ db, jobsetId }) => {
    const id = await insertBuild(db.pool, jobsetId, { job: 'released' });
    const { during, after } = await cacheEntries(db.pool, id, []);
    expect(after).toBe(during);
  });
});
