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
  const gateway = await startGateway({ connectionString, host: '127.0.0.1', port: 0, log: createLog('info'), anonymous: 'read' });
  const { token } = await gateway.tokens.create({ name: `bench-${process.pid}`, scope: 'admin' });
  return { url: gateway.url, token, close: () => gateway.close() };
});
