/**
 * One Postgres for the whole test run: the embedded one (default) or the
 * server of TEST_DATABASE_URL (an admin connection to a real Postgres). A
 * template database with the Hydra-compatible schema is made once; every
 * test file clones its own database from it (see `database.ts`), so files
 * run in parallel without seeing each other's rows or notifications (LISTEN
 * is per database). The client module is built first (dist/client), so the
 * examples, which import `hydra-notify-gateway/client`, run what a user gets;
 * the gateway (dist/app), which the start command's tests run as `npm start`
 * does; and the dashboard when its build is missing or stale (dashboard/build.ts),
 * as `npm start` does: the gateways the tests start serve it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { ensureDashboardBuilt } from '../../dashboard/build.js';
import { importEmbeddedPostgres } from '../../src/db/embedded.js';
import { installHydraSchema } from '../../src/hydra/install.js';
import { freePort } from './ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { adminUrl: string; template: string };
  }
}

export const TEMPLATE = 'hng_template';

/** Runs a build script as `npm run <name>` does; throws with tsc's output when it fails. */
function build(name: string, script: string): void {
  const run = spawnSync(process.execPath, [script], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`npm run ${name} failed:\n${run.stdout}${run.stderr}`);
}

export default async function setup(project: TestProject) {
  build('build:client', 'scripts/build-client.mjs');
  build('build:server', 'scripts/build-server.mjs');
  await ensureDashboardBuilt((line) => process.stderr.write(`${line}\n`));
  let adminUrl = process.env.TEST_DATABASE_URL;
  let stop = async () => {};
  if (!adminUrl) {
    const dir = mkdtempSync(join(tmpdir(), 'hng-test-'));
    chmodSync(dir, 0o777);
    const port = await freePort();
    // Without its exit hooks: one of them would turn a failed run's exit code into 0.
    const EmbeddedPostgres = await importEmbeddedPostgres();
    const server = new EmbeddedPostgres({
      databaseDir: join(dir, 'data'),
      port,
      user: 'postgres',
      password: 'postgres',
      persistent: false,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=off'],
      onLog: () => {},
      onError: () => {},
    });
    await server.initialise();
    await server.start();
    adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
    stop = async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE}`;
  const client = new pg.Client({ connectionString: templateUrl.toString() });
  await client.connect();
  await installHydraSchema(client);
  await client.end();

  project.provide('postgres', { adminUrl, template: TEMPLATE });
  return stop;
}
