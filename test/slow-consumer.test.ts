/**
 * A client that stops reading is not silently skipped: once more events wait
 * for it than the queue limit allows, its subscription ends with an explicit
 * SLOW_CONSUMER error, while a client that keeps reading on the same gateway
 * receives every event.
 */
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { print } from 'graphql';
import { QueueChangedDocument } from '../src/client/generated/operations.js';
import { Stream, subscribeWs, until, wsClient } from './support/clients.js';
import { notify } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';

// Small bounds, so the slow client is found after a few thousand events even on a busy machine.
const test = fixtures({ subscriberQueueLimit: 2_000, subscriberMaxBufferedBytes: 65_536 });

describe('a slow consumer', () => {
  test('gets SLOW_CONSUMER instead of a gap; a fast one gets everything', async ({ db, gateway }) => {
    // A real graphql-ws client whose socket we can stop reading from.
    let socket: WebSocket | null = null;
    class PausableWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        socket = this;
      }
    }
    const slowClient = createClient({
      url: gateway.url.replace(/^http/, 'ws'),
      webSocketImpl: PausableWebSocket,
      connectionParams: { token: gateway.adminToken },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {},
    });
    onCleanup(async () => slowClient.dispose());
    const slow = new Stream<unknown>();
    slowClient.subscribe({ query: print(QueueChangedDocument) }, slow.sink);
    const fast = subscribeWs(wsClient(gateway.url), QueueChangedDocument);
    await until(() => gateway.hub.size === 2, 10_000, 'two subscriptions');

    // Stop reading: the kernel buffers fill, the server's sends stall, its queue grows.
    (socket as unknown as { _socket: { pause(): void } })._socket.pause();
    // Bursts smaller than the queue limit, each read in full by the fast client
    // before the next: only the client that stopped reading falls behind.
    const batch = 1_000;
    let sent = 0;
    while (gateway.hub.overflows === 0 && sent < 200_000) {
      await notify(
        db.pool,
        Array.from({ length: batch }, (_, i) => ['builds_added', String(sent + i + 1)] as const),
        'function',
      );
      const received = await fast.take(batch);
      expect(received.map((r) => r.queueChanged.lowestNewBuildId)).toEqual(Array.from({ length: batch }, (_, i) => sent + i + 1));
      sent += batch;
    }
    expect(gateway.hub.overflows).toBe(1);

    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    await slow.waitEnded(30_000);
    const results: { errors?: readonly { extensions?: Record<string, unknown> }[] }[] = [];
    while (slow.buffered > 0) results.push(await slow.next());
    // What it did receive came in order; then an explicit error, not a gap.
    expect(results.at(-1)?.errors?.[0]?.extensions?.code).toBe('SLOW_CONSUMER');
    expect(results.slice(0, -1).every((r) => !r.errors)).toBe(true);
    expect(results.length - 1).toBeLessThan(sent);
    expect(fast.ended).toBe(false);
    const metrics = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toContain('hng_slow_consumer_total 1');
  }, 120_000);
});
