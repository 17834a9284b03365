/**
 * The system under test: the gateway itself, started through its public
 * entry (`startGateway`) with its default settings (but anonymous reading,
 * and an admin token for the orchestrator), over the bench's
 * database, on a free port, logging at `info` on stderr (the orchestrator
 * keeps the log and counts pg's "already executing a query" deprecation
 * warning in it). Nothing else of `src/` is used: the bench speaks to the
 * gateway over HTTP, WebSocket and SSE only, so it measures whatever the
 * gateway becomes.
 */
import { startGateway } from '../../src/gateway.js';
import { createLog } from '../../src/log.js';
import { runServerChild } from './child.js';

runServerChild(async (connectionString) => {
  // Subscribers and readers come without a token, as the embedded demo allows; the orchestrator's
  // acknowledgements carry an admin token, as a service's would.
  // Its limits per client are for one machine's worth of subscribers from one address, as an operator
  // expecting this load would set them (HNG_MAX_SOCKETS_PER_TOKEN and the like).
  const many = 1_000_000;
  const gateway = await startGateway({
    connectionString,
    host: '127.0.0.1',
    port: 0,
    log: createLog('info'),
    anonymous: 'read',
    limits: { maxSocketsPerToken: many, maxSseStreamsPerToken: many, maxPendingPerAddress: many, maxSubscriptionsPerSocket: 10_000 },
  });
  const { token } = await gateway.tokens.create({ name: `bench-${process.pid}`, scope: 'admin' });
  return { url: gateway.url, token, close: () => gateway.close() };
});
