/**
 * The fixtures every test file that needs a database shares: a database of
 * the file's own, a gateway over it, and seeded jobsets, each made once per
 * file (vitest `test.extend` with `scope: 'file'`), on first use.
 *
 * Lifecycle: the database is cloned from the template when a test of the file
 * first asks for it; the gateway (options from `fixtures(options)`) starts
 * over it and has finished taking over the recording before a test sees it;
 * the jobsets are `nixpkgs:trunk` (`jobsetId`) and, for tests that tell two
 * projects apart, `hydra:master` (`otherJobsetId`). Everything made here, and
 * every client, gateway and pool registered with `onCleanup`, is disposed
 * after the file, and `leaks.ts` then fails the file if a gateway, a pool, a
 * socket, a child process or a server-side subscription is still there.
 *
 * Tests that start gateways of their own (several per test, or with options
 * per test) use `recordingGateway`, the gateway the fixture is made of.
 */
import { test as base } from 'vitest';
import type { GatewayOptions } from '../../src/gateway.js';
import { until } from './clients.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { seedJobset } from './hydra.js';

/**
 * A gateway over `connectionString` that has finished taking over the
 * recording (its gap and reconciliation are done).
 */
export async function recordingGateway(connectionString: string, options: Partial<GatewayOptions> = {}): Promise<TestGateway> {
  const gateway = await startTestGateway(connectionString, options);
  await until(() => gateway.recorder.recording, 10_000, `gateway ${gateway.instance} recording`);
  return gateway;
}

/** A `test` whose file fixtures (`db`, `gateway`, `jobsetId`, `otherJobsetId`) use these gateway options. */
export function fixtures(options: Partial<GatewayOptions> = {}) {
  return (
    base
      /** The file's own database, cloned from the Hydra-compatible template. */
      .extend('db', { scope: 'file' }, async (): Promise<TestDatabase> => createTestDatabase())
      /** A gateway over `db`, recording. */
      .extend('gateway', { scope: 'file' }, async ({ db }): Promise<TestGateway> => recordingGateway(db.url, options))
      /** The id of the jobset `nixpkgs:trunk` in `db`. */
      .extend('jobsetId', { scope: 'file' }, async ({ db }): Promise<number> => seedJobset(db.pool))
      /** The id of the jobset `hydra:master` in `db`: another project's. */
      .extend('otherJobsetId', { scope: 'file' }, async ({ db }): Promise<number> => seedJobset(db.pool, 'hydra', 'master'))
  );
}

/** A `test` with the default gateway. */
export const test = fixtures();
