/**
 * A real gateway on a free port over a test database, with a captured log.
 * Every gateway and client started through here is disposed after the test
 * file (`afterAll`), leftovers included, so a failing test leaks nothing.
 */
import { afterAll } from 'vitest';
import { type Gateway, type GatewayOptions, startGateway } from '../../src/gateway.js';
import { createLog } from '../../src/log.js';

const disposers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose().catch(() => {});
});

/** Registers `dispose` to run after the file. */
export function onCleanup(dispose: () => Promise<void>): void {
  disposers.push(dispose);
}

/** A gateway whose log lines are kept in `logs`. */
export type TestGateway = Gateway & { logs: string[] };

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
  onCleanup(() => gateway.close());
  return Object.assign(gateway, { logs });
}
