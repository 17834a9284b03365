/**
 * HNG_MAX_SUBSCRIPTIONS_PER_SOCKET is the most subscriptions one WebSocket
 * holds: exactly that many are accepted, one by one or in one burst, and the
 * next is refused with LIMIT_EXCEEDED naming the setting (graphql-ws counts
 * the subscription being started among the socket's own: it used to be one
 * fewer).
 */
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { tokenFor, until } from './support/clients.js';
import { fixtures } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';

const LIMIT = 3;
const test = fixtures({ limits: { maxSubscriptionsPerSocket: LIMIT } });

/** A graphql-ws socket, acknowledged; `errors` collects the ids refused. */
async function socketOf(url: string): Promise<{ subscribe: (id: string) => void; refused: Map<string, string> }> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  onCleanup(async () => socket.terminate());
  const refused = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { token: tokenFor(url) } })));
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id?: string; type: string; payload?: unknown };
      if (message.type === 'connection_ack') resolve();
      if (message.type === 'error') refused.set(message.id!, JSON.stringify(message.payload));
    });
  });
  const query = 'subscription { buildQueued { buildId } }';
  return { subscribe: (id) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } })), refused };
}

describe('subscriptions per socket', () => {
  test('exactly the limit, one by one; the next is refused', async ({ gateway }) => {
    const { subscribe, refused } = await socketOf(gateway.url);
    for (let i = 1; i <= LIMIT; i++) {
      subscribe(String(i));
      await until(() => gateway.hub.size === i, 10_000, `subscription ${i}`);
    }
    subscribe('over');
    await until(() => refused.size === 1, 10_000, 'the refusal');
    expect(refused.get('over')).toContain('LIMIT_EXCEEDED');
    expect(refused.get('over')).toContain('HNG_MAX_SUBSCRIPTIONS_PER_SOCKET');
    expect(gateway.hub.size).toBe(LIMIT);
  });

  test('exactly the limit from a burst', async ({ gateway }) => {
    const before = gateway.hub.size;
    const { subscribe, refused } = await socketOf(gateway.url);
    for (let i = 0; i < 20; i++) subscribe(String(i));
    await until(() => refused.size === 20 - LIMIT && gateway.hub.size === before + LIMIT, 10_000, 'the limit accepted, the rest refused');
    expect([...refused.keys()].sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 20 - LIMIT }, (_, i) => String(i + LIMIT)),
    );
  });
});
