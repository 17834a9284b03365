/**
 * An acknowledging worker: follows its consumer's finished builds, processes
 * each, and acknowledges it, built on hydra-notify-gateway/client.
 *
 *   hydra-notify-gateway consumers create release-sync
 *   TOKEN=$(hydra-notify-gateway tokens create --name release-sync --scope ack --consumer release-sync)
 *   GATEWAY_URL=http://127.0.0.1:4000/graphql GATEWAY_TOKEN=$TOKEN CONSUMER=release-sync \
 *     node --import tsx examples/worker.ts
 *
 * What it guarantees: every build that finishes is processed, also those
 * that finished while this worker or the gateway was down (the consumer's
 * pending set keeps them); a gateway restart in the middle is ridden out
 * (the client resubscribes, an acknowledgement is retried until answered);
 * within one run no build is processed twice. Across runs a delivery can
 * come again if the worker died between processing and acknowledging, so
 * `publish` below must be idempotent per (buildId, pendingSince).
 *
 * It prints one JSON line per step on stdout (`processed`, `acknowledged`
 * with the compare-and-set outcome) and the connection's state on stderr.
 * SIGINT or SIGTERM stops it after the delivery in hand.
 */
import { type ConsumerDelivery, createGatewayClient, runConsumer } from 'hydra-notify-gateway/client';
// Node 20 has no global WebSocket (Node 22 and browsers do): `npm install ws`.
import WebSocket from 'ws';

const url = process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000/graphql';
const token = process.env.GATEWAY_TOKEN ?? null;
const consumer = process.env.CONSUMER ?? 'release-sync';

/** Your work: here, a line saying what would be published. Make it idempotent per (buildId, pendingSince). */
async function publish(delivery: ConsumerDelivery): Promise<void> {
  const build = delivery.build;
  const where = build?.jobset ? `${build.jobset.project?.name}:${build.jobset.name}` : '?';
  console.log(
    JSON.stringify({
      processed: delivery.buildId,
      pendingSince: delivery.pendingSince,
      job: build?.job,
      jobset: where,
      status: build?.buildStatus,
    }),
  );
}

const client = createGatewayClient({
  url,
  token,
  webSocketImpl: WebSocket,
  onState: (state) =>
    console.error(`worker: ${state.status}${state.status === 'disconnected' ? ` (${state.code ?? 'no connection'})` : ''}`),
});
const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

try {
  console.error(`worker: following consumer ${consumer} at ${url}`);
  await runConsumer(client, {
    consumer,
    signal: stop.signal,
    handle: publish,
    // A failed publish stays pending: the gateway delivers it again after its visibility timeout.
    onHandlerError: (error, delivery) => console.error(`worker: build ${delivery.buildId} failed, left pending: ${String(error)}`),
    onAcknowledged: ({ delivery, outcome, currentPendingSince }) =>
      console.log(JSON.stringify({ acknowledged: delivery.buildId, pendingSince: delivery.pendingSince, outcome, currentPendingSince })),
  });
} catch (error) {
  // What no retry cures: a bad token (4401), an unknown consumer, a token not bound to it.
  console.error(`worker: stopped: ${String(error)}`);
  process.exitCode = 1;
} finally {
  await client.dispose();
}
