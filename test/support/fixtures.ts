/**
 * The fixtures every test file that needs a database shares: a database of
 * the file's own, a gateway over it, and a seeded jobset, each made once per
 * file (vitest `test.extend` with `scope: 'file'`), on first use.
 *
 * Lifecycle: the database is cloned from the template when a test of the file
 * first asks for it; the gateway (options from `fixtures(options)`) starts
 * over it and has finished taking over the recording before a test sees it;
 * the jobset is `nixpkgs:trunk`. Everything made here, and every client,
 * gateway and pool registered with `onCleanup`, is disposed after the file,
 * and `leaks.ts` then fails the file if a gateway, a pool, a socket, a child
 * process or a server-side subscription is still there.
 */
import { test as base } from 'vitest';
import type { GatewayOptions } from '../../src/gateway.js';
import { until } from './clients.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { seedJobset } from './hydra.js';

/** What a test of a file receives. */
export interface FileFixtures {
  /** The file's own database, cloned from the Hydra-compatible template. */
  db: TestDatabase;
  /** A gateway over `db`, recording. */
  gateway: TestGateway;
  /** The id of the jobset `nixpkgs:trunk` in `db`. */
  jobsetId: number;
}

/** A `test` whose file fixtures use these gateway options. */
export function fixtures(options: Partial<GatewayOptions> = {}) {
  return base.extend<object, FileFixtures>({
    db: [
      // eslint-disable-next-line no-empty-pattern
      async ({}, use) => use(await createTestDatabase()),
      { scope: 'file' },
    ],
    gateway: [
      async ({ db }, use) => {
        const gateway = await startTestGateway(db.url, options);
        await until(() => gateway.recorder.recording, 10_000, 'the gateway recording');
        await use(gateway);
      },
      { scope: 'file' },
    ],
    jobsetId: [async ({ db }, use) => use(await seedJobset(db.pool)), { scope: 'file' }],
  });
}

/** A `test` with the default gateway. */
export const test = fixtures();
