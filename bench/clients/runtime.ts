/**
 * The child-process side of every subscriber fleet: one transport (graphql-ws
 * or SSE) opening many subscriptions, and the orchestrator's requests.
 *
 * Contract: requests are `connect` (open the sockets and subscribe; answers
 * when every socket is open and every subscribe sent, with the time it took),
 * `phase` (start counting a phase), `report` (the phase's figures) and `stop`
 * (close every socket, exit). Events: `ready` once every subscription has
 * received an event, `phase-done` once every subscription received every
 * event of the phase. A transport reports frames through its `Sink` and
 * never parses more than it must on the hot path (a regular expression for
 * the build id): the clients share the machine with the server under test.
 */
import { nowUs } from '../support/clock.js';
import { emit, serveParent } from '../support/ipc.js';
import { Deliveries, type Phase } from './deliveries.js';

/** What a transport reports. */
export interface Sink {
  /** Subscription `sub` (0-based, over the whole process) got the event of `buildId`. */
  delivery(sub: number, buildId: number, raw: string): void;
  /** Subscription ended (server completed it, sent an error, or the socket closed). */
  ended(sub: number, why: string): void;
  /** An error frame or result with errors. */
  error(sub: number, message: string): void;
}

/** How to open the subscriptions of one process. */
export interface OpenPlan {
  url: string;
  query: string;
  sockets: number;
  subsPerSocket: number;
  /** Handshakes in flight at once. */
  concurrency: number;
}

/** A way of subscribing (graphql-ws, SSE). */
export interface Transport {
  /** Opens `plan.sockets` sockets with `plan.subsPerSocket` subscriptions each; resolves with how many failed. */
  open(plan: OpenPlan, sink: Sink): Promise<{ failed: number; firstError: string | null }>;
  /** Parses a raw frame in full; the build id it carries, or null when it is not the expected result. */
  validate(raw: string): number | null;
  close(): Promise<void>;
}

/** Serves the orchestrator with `transport`; see the module contract. */
export function runClientChild(transport: Transport): void {
  let deliveries: Deliveries | null = null;
  const firstErrors: string[] = [];
  serveParent({
    connect: async (request) => {
      const plan = request.plan as OpenPlan;
      const subscriptions = plan.sockets * plan.subsPerSocket;
      deliveries = new Deliveries(
        subscriptions,
        (raw) => transport.validate(raw),
        () => emit('ready', { atUs: nowUs() }),
        (phase: Phase) => emit('phase-done', { phase: phase.name }),
      );
      const d = deliveries;
      const started = performance.now();
      const sink: Sink = {
        delivery: (sub, buildId, raw) => d.delivery(sub, buildId, raw),
        ended: (_sub, why) => {
          d.end();
          if (firstErrors.length < 5) firstErrors.push(why);
        },
        error: (_sub, message) => {
          d.error();
          if (firstErrors.length < 5) firstErrors.push(message);
        },
      };
      const { failed, firstError } = await transport.open(plan, sink);
      return { subscriptions, failed, firstError, ms: performance.now() - started };
    },
    phase: (request) => {
      if (!deliveries) throw new Error('phase before connect');
      deliveries.startPhase(request.phase as Phase);
      return true;
    },
    report: () => {
      if (!deliveries) throw new Error('report before connect');
      return { ...deliveries.report(), firstErrors };
    },
    status: () => ({ ready: deliveries?.ready ?? 0 }),
    stop: async () => {
      await transport.close();
      setImmediate(() => process.exit(0));
    },
  });
}
