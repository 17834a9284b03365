/**
 * Documents nested 2,000 levels deep, within the token limit (two tokens a
 * level: `{ a { a …` or `[[[…`): the parser recurses once per level and used
 * to overflow its stack (a masked "Unexpected error.", HTTP 500). They are
 * refused before parsing with LIMIT_EXCEEDED naming HNG_MAX_DEPTH, over HTTP
 * and over WebSocket; documents that nest as real ones do still run. The
 * documents are sent as text: parsing them here would overflow this stack.
 */
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { nestingLimit } from '../src/server/limits.js';
import { authorization, tokenFor } from './support/clients.js';
import { test } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';

/** An input object nested 1,500 levels deep (3 tokens a level in, 1 out: 6,000 tokens, but 4,500 to its deepest point). */
const DEEP_OBJECT = `${'{ project: '.repeat(1_500)}"x"${' }'.repeat(1_500)}`;
const DEEP = {
  selections: `{ ${'a { '.repeat(2_000)}b${' }'.repeat(2_000)} }`,
  lists: `{ build(id: ${'['.repeat(2_000)}1${']'.repeat(2_000)}) { id } }`,
  objects: `{ events(first: 1, filter: ${DEEP_OBJECT}) { edges { cursor } } }`,
};

type Answer = { status: number; errors?: { message: string; extensions?: Record<string, unknown> }[]; data?: unknown };

/** POSTs `query` as it is. */
async function post(url: string, query: string): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authorization(url) },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, ...((await response.json()) as object) };
}

/** Subscribes with `query` as it is over graphql-ws; resolves the first message after the ack. */
async function subscribeRaw(url: string, query: string): Promise<{ type: string; payload?: unknown }> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  onCleanup(async () => socket.terminate());
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { token: tokenFor(url) } })));
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
      else resolve(message);
    });
  });
}

describe('documents nested 2,000 levels deep', () => {
  test.for(Object.entries(DEEP))('%s: refused over HTTP with LIMIT_EXCEEDED (HNG_MAX_DEPTH)', async ([, query], { gateway }) => {
    const answer = await post(gateway.url, query);
    expect(answer.status).toBe(200);
    expect(answer.errors?.[0]?.extensions).toEqual({ code: 'LIMIT_EXCEEDED', setting: 'HNG_MAX_DEPTH' });
    expect(answer.errors?.[0]?.message).toContain(`nested more than ${nestingLimit(12)} levels deep`);
  });

  test('refused over WebSocket too', async ({ gateway }) => {
    const message = await subscribeRaw(gateway.url, `subscription { buildQueued(filter: ${DEEP_OBJECT}) { buildId } }`);
    expect(message.type).toBe('error');
    expect(JSON.stringify(message.payload)).toContain('HNG_MAX_DEPTH');
  });

  test('a document nested as real ones are still runs', async ({ gateway }) => {
    expect(await post(gateway.url, '{ build(id: 1) { id jobset { name project { name } } } }')).toEqual({
      status: 200,
      data: { build: null },
    });
    // Nested lists within the bound reach validation, which says what is wrong with them.
    const lists = await post(gateway.url, `{ build(id: ${'['.repeat(40)}1${']'.repeat(40)}) { id } }`);
    expect(lists.errors?.[0]?.message).toContain('Int cannot represent');
  });
});
