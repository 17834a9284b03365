/**
 * A real gateway on a free port over a test database, with a captured log.
 * Every gateway and client started through here is disposed after the test
 * file (leaks.ts calls `disposeAll` from its `afterAll`), leftovers included,
 * so a failing test leaks nothing. Disposers run in reverse order of
 * registration, so a file's clients leave before its gateways close: a
 * gateway that still holds subscriptions then is reported in `leaks`, and
 * leaks.ts fails the file.
 */
import { type Gateway, type GatewayOptions, startGateway } from '../../src/gateway.js';
import { createLog } from '../../src/log.js';

const disposers: (() => Promise<void>)[] = [];

/** Runs every registered disposer, last registered first; a failing one does not stop the others. */
export async function disposeAll(): Promise<void> {
  for (const dispose of disposers.splice(0).reverse()) await dispose().catch(() => {});
}

/** What disposing found left behind: each entry fails the file (see leaks.ts). */
export const leaks: string[] = [];

/** Registers `dispose` to run after the file. */
export function onCleanup(dispose: () => Promise<void>): void {
  disposers.push(dispose);
}

/** A gateway whose log lines are kept in `logs`, with an admin token that test clients send by default. */
export type TestGateway = Gateway & { logs: string[]; adminToken: string };

/** The admin token of each test gateway, by origin: what clients.ts sends unless told otherwise. */
export const adminTokens = new Map<string, string>();

/** Starts a gateway on `127.0.0.1:0` over `connectionString`. */
export async function startTestGateway(connectionString: string, options: Partial<GatewayOptions> = {}): Promise<TestGateway> {
  const logs: string[] = [];
  const gateway = await startGateway({
    connectionString,
    host: '127.0.0.1',
    port: 0,
    log: createLog('debug', (line) => logs.push(line)),
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...options,
  });
  // A test that closed its gateway has had it end its own way (close() waits for the first call).
  const close = gateway.close.bind(gateway);
  let closedByTest = false;
  gateway.close = () => ((closedByTest = true), close());
  onCleanup(async () => {
    if (closedByTest) return;
    // Every client of the file has left (they were disposed first): so must their subscriptions.
    const deadline = Date.now() + 3_000;
    while (gateway.hub.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    if (gateway.hub.size > 0)
      leaks.push(`gateway ${gateway.instance} still holds ${gateway.hub.size} subscriptions after every client left`);
    await gateway.close();
  });
  const { token: adminToken } = await gateway.tokens.create({
    name: `test-admin-${gateway.instance.replace(/[^\w.@-]/g, '-')}`,
    scope: 'admin',
  });
  adminTokens.set(new URL(gateway.url).origin, adminToken);
  return Object.assign(gateway, { logs, adminToken });
}
