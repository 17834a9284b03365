/**
 * HNG_MAX_SUBSCRIPTIONS_PER_SOCKET is the most subscriptions one WebSocket
 * holds: exactly that many are accepted, one by one or in one burst, and the
 * next is refused with LIMIT_EXCEEDED naming the setting (graphql-ws counts
 * the subscription being started among the socket's own: it used to be one
 * fewer). A socket refused that many times over is flooding: the refusals
 * made are sent, it is closed with 4429, and the rest of what it sent is not
 * read (10,000 subscribe messages in a burst used to hold up every other
 * client for most of a second).
 */
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { tokenFor, until } from './support/clients.js';
import { fixtures } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';

const LIMIT = 3;
const test = fixtures({ limits: { maxSubscriptionsPerSocket: LIMIT } });

/** A graphql-ws socket, acknowledged; `refused` collects the ids refused, `closed` its close code and reason. */
async function socketOf(url: string) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  onCleanup(async () => socket.terminate());
  const refused = new Map<string, string>();
  const closed = new Promise<string>((resolve) => socket.once('close', (code, reason) => resolve(`${code} ${reason}`)));
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
  const subscribe = (id: string) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
  return { socket, subscribe, refused, closed };
}

describe('subscriptions per socket', () => {
  test('exactly the limit, one by one; the next is refused, and the socket stays', async ({ gateway }) => {
    const { socket, subscribe, refused } = await socketOf(gateway.url);
    for (let i = 1; i <= LIMIT; i++) {
      subscribe(String(i));
      await until(() => gateway.hub.size === i, 10_000, `subscription ${i}`);
    }
    subscribe('over');
    await until(() => refused.size === 1, 10_000, 'the refusal');
    expect(refused.get('over')).toContain('LIMIT_EXCEEDED');
    expect(refused.get('over')).toContain('HNG_MAX_SUBSCRIPTIONS_PER_SOCKET');
    expect(gateway.hub.size).toBe(LIMIT);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
    await until(() => gateway.hub.size === 0, 10_000, 'the subscriptions ended');
  });

  test('a burst: exactly the limit accepted, the rest refused, then the socket closed as flooding (4429)', async ({ gateway }) => {
    const { subscribe, refused, closed } = await socketOf(gateway.url);
    for (let i = 0; i < 20; i++) subscribe(String(i));
    expect(await closed).toBe('4429 Too many subscriptions: 4 refused (HNG_MAX_SUBSCRIPTIONS_PER_SOCKET)');
    // Every refusal made before the close was sent: the first ones over the limit, in order, up to
    // the end of what was read when the socket was found flooding (the rest of the burst, if it came
    // in a later read, is not read at all).
    const answered = [...refused.keys()].map(Number).sort((a, b) => a - b);
    expect(answered.length).toBeGreaterThan(LIMIT);
    expect(answered).toEqual(Array.from({ length: answered.length }, (_, i) => i + LIMIT));
    await until(() => gateway.hub.size === 0, 10_000, 'the accepted ones ended with their socket');
  });

  test('a flood of 10,000: closed, most of it never read', async ({ gateway }) => {
    const { subscribe, refused, closed } = await socketOf(gateway.url);
    for (let i = 0; i < 10_000; i++) subscribe(String(i));
    expect(await closed).toMatch(/^4429 Too many subscriptions/);
    expect(refused.size).toBeGreaterThan(LIMIT);
    expect(refused.size).toBeLessThan(5_000);
    await until(() => gateway.hub.size === 0, 10_000, 'the accepted ones ended with their socket');
  });
});
