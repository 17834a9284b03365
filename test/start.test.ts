/**
 * The start command as a newcomer runs it: `node --import tsx src/main.ts`
 * (what `npm start` runs) spawned as a real child process. Without
 * DATABASE_URL it initialises an embedded Postgres in a fresh data folder,
 * starts the simulated Hydra and serves; one graphql-ws client then receives
 * every one of the twelve subscriptions with its rows resolved; SIGTERM ends
 * the WebSockets with 1001, stops the embedded Postgres and exits 0 within the
 * grace period, and a second start reuses the data folder (no new initdb, the
 * first run's builds still there). test/stop.test.ts has the harder starts
 * and stops.
 * Start-up failures (unreachable database, a database without Hydra's tables,
 * an invalid configuration, a DATABASE_URL that is not Postgres, the HTTP port
 * in use) exit 1 with one plain message and no stack trace.
 * With DATABASE_URL pointing at a Hydra database the gateway starts no
 * simulator, writes no rows, and leaves the `public` schema exactly as it was;
 * without it, HNG_SIMULATOR=off keeps the embedded database but adds no rows.
 * Every child is killed (its process group, then any postmaster left in its
 * data folder) and every temp folder removed after the file, even on failure
 * (test/support/command.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BuildByIdDocument,
  BuildFinishedDocument,
  BuildQueuedDocument,
  BuildStartedDocument,
  CachedBuildFinishedDocument,
  CachedBuildQueuedDocument,
  EvalAddedDocument,
  EvalCachedDocument,
  EvalFailedDocument,
  EvalStartedDocument,
  JobsetByNameDocument,
  PendingBuildFinishedDocument,
  QueueChangedDocument,
  StepFinishedDocument,
  StepStartedDocument,
} from '../src/client/generated/operations.js';
import { requestData, subscribeWs, wsClient } from './support/clients.js';
import {
  type Exit,
  hasRecord,
  isPostmasterOf,
  logRecords,
  postmasterPid,
  STACK_FRAME,
  StartCommand,
  STARTUP_MS,
  tempDir,
  WARN_OR_ERROR,
  watchedSocket,
} from './support/command.js';
import { createTestDatabase, notify } from './support/database.js';
import { freePort } from './support/ports.js';

/** Long enough for the simulator to produce its rarest kind of event. */
const EVENTS_MS = 60_000;

describe('npm start without DATABASE_URL', () => {
  let dataDir: string;
  let url: string;
  /** Builds the first run saw, for the restart to find again. */
  const firstRun = { finishedBuildId: 0, pendingSince: '', highestBuildId: 0 };

  /** Starts the command on `dataDir` with a fast simulator; resolves when it serves. */
  async function start(): Promise<StartCommand> {
    const port = await freePort();
    const command = new StartCommand(
      {
        PORT: String(port),
        HNG_EMBEDDED_PG_PORT: String(await freePort()),
        HNG_SIMULATOR_EVAL_MS: '150',
        HNG_SIMULATOR_RUNNER_MS: '50',
      },
      dataDir,
    );
    await command.waitForLog('gateway ready');
    url = `http://127.0.0.1:${port}/graphql`;
    expect(hasRecord(command.stderr, 'gateway ready', { level: 'info', url })).toBe(true);
    return command;
  }

  let first: StartCommand;

  beforeAll(() => {
    dataDir = tempDir();
  });

  it(
    'initialises the embedded Postgres in a fresh data folder and serves',
    async () => {
      first = await start();
      expect(first.stderr).toContain('initialising embedded postgres');
      expect(first.stderr).toContain('created a Hydra-compatible schema');
      expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    },
    STARTUP_MS + 10_000,
  );

  it(
    'delivers every subscription, typed and with its rows, to one graphql-ws client',
    async () => {
      const client = wsClient(url);
      const streams = {
        evalStarted: subscribeWs(client, EvalStartedDocument),
        evalAdded: subscribeWs(client, EvalAddedDocument),
        evalCached: subscribeWs(client, EvalCachedDocument),
        evalFailed: subscribeWs(client, EvalFailedDocument),
        buildQueued: subscribeWs(client, BuildQueuedDocument),
        buildStarted: subscribeWs(client, BuildStartedDocument),
        stepStarted: subscribeWs(client, StepStartedDocument),
        stepFinished: subscribeWs(client, StepFinishedDocument),
        buildFinished: subscribeWs(client, BuildFinishedDocument),
        cachedBuildQueued: subscribeWs(client, CachedBuildQueuedDocument),
        cachedBuildFinished: subscribeWs(client, CachedBuildFinishedDocument),
        queueChanged: subscribeWs(client, QueueChangedDocument),
      };
      const [
        { evalStarted },
        { evalAdded },
        { evalCached },
        { evalFailed },
        { buildQueued },
        { buildStarted },
        { stepStarted },
        { stepFinished },
        { buildFinished },
        { cachedBuildQueued },
        { cachedBuildFinished },
        { queueChanged },
      ] = await Promise.all([
        streams.evalStarted.nextData(EVENTS_MS),
        streams.evalAdded.nextData(EVENTS_MS),
        streams.evalCached.nextData(EVENTS_MS),
        streams.evalFailed.nextData(EVENTS_MS),
        streams.buildQueued.nextData(EVENTS_MS),
        streams.buildStarted.nextData(EVENTS_MS),
        streams.stepStarted.nextData(EVENTS_MS),
        streams.stepFinished.nextData(EVENTS_MS),
        streams.buildFinished.nextData(EVENTS_MS),
        streams.cachedBuildQueued.nextData(EVENTS_MS),
        streams.cachedBuildFinished.nextData(EVENTS_MS),
        streams.queueChanged.nextData(EVENTS_MS),
      ]);

      expect(evalStarted).toMatchObject({
        channel: 'eval_started',
        source: 'LIVE',
        traceId: expect.stringMatching(/^\d+\.\d{9}\.\d+$/),
        jobset: { id: evalStarted.jobsetId, name: expect.any(String), project: { name: expect.any(String) } },
      });
      expect(evalAdded).toMatchObject({
        channel: 'eval_added',
        jobset: { name: expect.any(String) },
        evaluation: { id: evalAdded.evaluationId },
      });
      expect(evalCached).toMatchObject({
        channel: 'eval_cached',
        jobset: { name: expect.any(String) },
        evaluation: { id: evalCached.evaluationId },
      });
      expect(evalFailed).toMatchObject({ channel: 'eval_failed', jobset: { name: expect.any(String) } });
      expect(buildQueued).toMatchObject({
        channel: 'build_queued',
        build: {
          id: buildQueued.buildId,
          job: expect.any(String),
          jobset: { name: expect.any(String), project: { name: expect.any(String) } },
          outputs: expect.arrayContaining([expect.objectContaining({ name: 'out', path: expect.stringMatching(/^\/nix\/store\//) })]),
        },
      });
      expect(buildStarted).toMatchObject({ channel: 'build_started', build: { id: buildStarted.buildId } });
      expect(stepStarted).toMatchObject({
        channel: 'step_started',
        build: { id: stepStarted.buildId },
        step: { stepNr: stepStarted.stepNr, machine: expect.any(String), drvPath: expect.any(String) },
      });
      expect(stepFinished).toMatchObject({
        channel: 'step_finished',
        logPath: expect.any(String),
        build: { id: stepFinished.buildId },
        step: { stepNr: stepFinished.stepNr, busy: 'NOT_BUSY', status: expect.any(String) },
      });
      expect(buildFinished).toMatchObject({
        channel: 'build_finished',
        source: 'LIVE',
        pendingSince: expect.any(String),
        build: {
          id: buildFinished.buildId,
          finished: true,
          buildStatus: expect.any(String),
          notificationPendingSince: buildFinished.pendingSince,
        },
      });
      expect(cachedBuildQueued).toMatchObject({
        channel: 'cached_build_queued',
        evaluation: { id: cachedBuildQueued.evaluationId },
        build: { id: cachedBuildQueued.buildId },
      });
      expect(cachedBuildFinished).toMatchObject({
        channel: 'cached_build_finished',
        evaluation: { id: cachedBuildFinished.evaluationId },
        build: { id: cachedBuildFinished.buildId, finished: true },
      });
      expect(queueChanged.kind).toEqual(expect.any(String));

      firstRun.finishedBuildId = buildFinished.buildId;
      firstRun.pendingSince = buildFinished.pendingSince!;
      firstRun.highestBuildId = Math.max(buildQueued.buildId, buildStarted.buildId, buildFinished.buildId, cachedBuildQueued.buildId);
    },
    EVENTS_MS + 10_000,
  );

  it('on SIGTERM, with subscribers connected, ends their sockets with 1001, stops its Postgres and exits 0 within the grace period', async () => {
    const socket = watchedSocket(url);
    const subscription = subscribeWs(socket.client, BuildQueuedDocument);
    await subscription.nextData(EVENTS_MS);
    const postmaster = postmasterPid(dataDir)!;
    expect(postmaster).toBeGreaterThan(0);

    const stopping = Date.now();
    first.terminate();
    expect(await first.exited()).toEqual({ code: 0, signal: null });
    // HNG_SHUTDOWN_GRACE_MS, 10 s by default
    expect(Date.now() - stopping).toBeLessThan(10_000);
    // Going away: the client may reconnect elsewhere.
    expect(await socket.code).toBe(1001);
    expect(hasRecord(first.stderr, 'shutting down', { level: 'info', signal: 'SIGTERM' })).toBe(true);
    expect(first.stderr).toMatch(/\n\{"level":"info",[^\n]*"msg":"stopped"\}\n$/);
    expect(first.stderr).not.toMatch(STACK_FRAME);
    expect(first.stderr).not.toMatch(WARN_OR_ERROR);
    // A clean shutdown removes the pid file; a killed server would leave it.
    expect(isPostmasterOf(postmaster, join(dataDir, 'postgres'))).toBe(false);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  });

  it(
    'starts again on the same data folder, without initialising, with the first run’s builds',
    async () => {
      expect(firstRun.finishedBuildId).toBeGreaterThan(0);
      const second = await start();
      expect(second.stderr).not.toContain('initialising embedded postgres');
      expect(second.stderr).not.toContain('created a Hydra-compatible schema');

      const { build } = await requestData(url, BuildByIdDocument, { id: firstRun.finishedBuildId });
      expect(build).toMatchObject({ id: firstRun.finishedBuildId, finished: true, notificationPendingSince: firstRun.pendingSince });
      const { pendingBuildFinished } = await requestData(url, PendingBuildFinishedDocument, {
        first: 1,
        filter: { buildId: firstRun.finishedBuildId },
      });
      expect(pendingBuildFinished.edges.map((e) => e.node.id)).toEqual([firstRun.finishedBuildId]);

      // The simulator carries on where the first run stopped.
      const queued = subscribeWs(wsClient(url), BuildQueuedDocument);
      expect((await queued.nextData(EVENTS_MS)).buildQueued.buildId).toBeGreaterThan(firstRun.highestBuildId);

      second.terminate();
      expect(await second.exited()).toEqual({ code: 0, signal: null });
      expect(second.stderr).not.toMatch(STACK_FRAME);
    },
    STARTUP_MS + EVENTS_MS,
  );
});

describe('npm start with HNG_SIMULATOR=off', () => {
  it(
    'serves on the embedded database, with its schema and no simulated activity',
    async () => {
      const port = await freePort();
      const pgPort = await freePort();
      const url = `http://127.0.0.1:${port}/graphql`;
      const command = new StartCommand(
        {
          PORT: String(port),
          HNG_EMBEDDED_PG_PORT: String(pgPort),
          HNG_SIMULATOR: 'off',
          // Were the simulator running, it would be busy at once.
          HNG_SIMULATOR_EVAL_MS: '150',
          HNG_SIMULATOR_RUNNER_MS: '50',
        },
        tempDir(),
      );
      // The last line of a start: a simulator would have seeded its projects and said so by now.
      await command.waitForLog('in a browser for GraphiQL');
      expect(hasRecord(command.stderr, 'gateway ready', { url })).toBe(true);
      expect(command.stderr).toContain('created a Hydra-compatible schema');
      expect(command.stderr).not.toContain('simulating');

      // The embedded database, as the log names it: its password masked, wherever it is logged.
      const logged = String(logRecords(command.stderr).find((r) => r.msg === 'embedded postgres ready')?.url);
      expect(logged).toBe(`postgres://postgres:***@127.0.0.1:${pgPort}/hydra`);
      expect(logRecords(command.stderr).find((r) => r.msg === 'gateway ready')?.database).toBe(logged);
      expect(command.stderr).not.toContain(':hydra-notify-gateway@');
      const embedded = new pg.Client({ connectionString: logged.replace(':***@', ':hydra-notify-gateway@') });
      // Its server stops with the command; a client still connected must not fail the file.
      embedded.on('error', () => {});
      await embedded.connect();
      try {
        const count = async (table: string) => Number((await embedded.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
        expect((await requestData(url, JobsetByNameDocument, { project: 'nixpkgs', name: 'trunk' })).jobset).toBeNull();

        // A notification round trip through the embedded Postgres: nothing else arrives meanwhile.
        const queue = subscribeWs(wsClient(url), QueueChangedDocument);
        const builds = subscribeWs(wsClient(url), BuildQueuedDocument);
        await subscribed(url, 2);
        await embedded.query(`NOTIFY hydra_notify_dump_metrics`);
        expect((await queue.nextData()).queueChanged.kind).toBe('HYDRA_NOTIFY_DUMP_METRICS');
        expect(builds.buffered).toBe(0);
        for (const table of ['projects', 'jobsets', 'jobsetevals', 'builds', 'users']) expect(await count(table), table).toBe(0);
      } finally {
        await embedded.end();
      }

      command.terminate();
      expect(await command.exited()).toEqual({ code: 0, signal: null });
      expect(command.stderr).not.toMatch(STACK_FRAME);
      expect(command.stderr).not.toContain('simulating');
    },
    STARTUP_MS + 10_000,
  );
});

describe('start-up failures', () => {
  /** Runs the command to its end; the data folder is never used with DATABASE_URL set. */
  async function run(vars: Record<string, string>): Promise<StartCommand & { result: Exit }> {
    const command = new StartCommand({ PORT: String(await freePort()), ...vars }, tempDir());
    const result = await command.exited(STARTUP_MS);
    return Object.assign(command, { result });
  }

  it(
    'says the database cannot be reached, without a stack trace',
    async () => {
      const closed = await freePort();
      const { result, stderr, dataDir } = await run({ DATABASE_URL: `postgres://u:p@127.0.0.1:${closed}/hydra` });
      expect(result.code).toBe(1);
      expect(stderr).toContain(`hydra-notify-gateway: cannot reach the database at 127.0.0.1:${closed}/hydra`);
      expect(stderr).not.toMatch(STACK_FRAME);
      expect(readdirSync(dataDir)).toEqual([]);
    },
    STARTUP_MS,
  );

  it(
    "names Hydra's missing tables, without a stack trace",
    async () => {
      const empty = await createTestDatabase({ empty: true });
      const { result, stderr } = await run({ DATABASE_URL: empty.url });
      expect(result.code).toBe(1);
      expect(stderr).toContain(`lacks Hydra's tables (builds, buildsteps`);
      expect(stderr).not.toMatch(STACK_FRAME);
    },
    STARTUP_MS,
  );

  it(
    'says the HTTP port is in use, in one plain line and without a stack trace',
    async () => {
      const db = await createTestDatabase();
      const busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      const { port } = busy.address() as AddressInfo;
      try {
        const { result, stderr } = await run({ DATABASE_URL: db.url, PORT: String(port) });
        expect(result.code).toBe(1);
        expect(stderr).not.toMatch(STACK_FRAME);
        expect(stderr).not.toContain('WebSocket');
        expect(stderr.trimEnd().split('\n').at(-1)).toBe(
          `hydra-notify-gateway: cannot serve on 127.0.0.1:${port}: the port is in use (another gateway, or another program?): stop that, or set PORT to a free port`,
        );
      } finally {
        busy.close();
      }
    },
    STARTUP_MS,
  );

  it(
    'refuses a DATABASE_URL that is not Postgres, as a configuration error that hides the password',
    async () => {
      const { result, stderr } = await run({ DATABASE_URL: 'mysql://root:secret@127.0.0.1:3306/hydra' });
      expect(result.code).toBe(1);
      expect(stderr.trimEnd().split('\n')).toEqual([
        'hydra-notify-gateway: invalid configuration:',
        expect.stringMatching(
          /^ {2}- DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL .*\(got "mysql:\/\/root:\*\*\*@127\.0\.0\.1:3306\/hydra"\)$/,
        ),
      ]);
      expect(stderr).not.toContain('secret');
    },
    STARTUP_MS,
  );

  it(
    'lists every configuration problem in one message',
    async () => {
      const { result, stderr } = await run({ PORT: 'notaport', HNG_LOG_LEVEL: 'loud' });
      expect(result.code).toBe(1);
      const lines = stderr.trimEnd().split('\n');
      expect(lines[0]).toBe('hydra-notify-gateway: invalid configuration:');
      expect(lines.slice(1)).toHaveLength(2);
      expect(lines.slice(1)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^ {2}- PORT: .*"notaport"/),
          expect.stringMatching(/^ {2}- HNG_LOG_LEVEL: .*"loud"/),
        ]),
      );
    },
    STARTUP_MS,
  );
});

describe("npm start with DATABASE_URL of Hydra's database", () => {
  /** What the gateway must never change: the shape of `public`. */
  async function publicSchema(pool: pg.Pool) {
    const [columns, triggers, indexes, relations, functions] = await Promise.all([
      pool.query(`SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default
                    FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`),
      pool.query(`SELECT c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) AS definition
                    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                   WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal ORDER BY c.relname, t.tgname`),
      pool.query(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname`),
      pool.query(`SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY relname`),
      pool.query(`SELECT proname, pg_get_function_identity_arguments(oid) AS args FROM pg_proc
                   WHERE pronamespace = 'public'::regnamespace ORDER BY proname, args`),
    ]);
    return { columns: columns.rows, triggers: triggers.rows, indexes: indexes.rows, relations: relations.rows, functions: functions.rows };
  }

  const count = async (pool: pg.Pool, table: string) => Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

  it(
    'starts no simulator, writes nothing, and leaves the public schema as it was',
    async () => {
      const db = await createTestDatabase();
      const before = await publicSchema(db.pool);
      expect(before.columns.some((c) => c.table_name === 'builds')).toBe(true);
      expect(before.triggers.length).toBeGreaterThan(0);

      const port = await freePort();
      const url = `http://127.0.0.1:${port}/graphql`;
      const command = new StartCommand(
        // Reads only: anonymous reading, which a DATABASE_URL deployment allows only when told to.
        { DATABASE_URL: db.url, PORT: String(port), HNG_ANONYMOUS: 'read', HNG_SIMULATOR_EVAL_MS: '150', HNG_SIMULATOR_RUNNER_MS: '50' },
        tempDir(),
      );
      // The last line of a start: a simulator would have seeded its projects by now.
      await command.waitForLog('in a browser for GraphiQL');
      expect(hasRecord(command.stderr, 'gateway ready', { url })).toBe(true);
      expect(command.stderr).not.toContain('simulating Hydra activity');
      expect(command.stderr).not.toContain('embedded postgres');
      expect(await count(db.pool, 'projects')).toBe(0);

      // A subscriber and a few queries, then a notification round trip through Postgres.
      const queue = subscribeWs(wsClient(url), QueueChangedDocument);
      const builds = subscribeWs(wsClient(url), BuildQueuedDocument);
      expect((await requestData(url, PendingBuildFinishedDocument, { first: 10 })).pendingBuildFinished.edges).toEqual([]);
      expect((await requestData(url, JobsetByNameDocument, { project: 'nixpkgs', name: 'trunk' })).jobset).toBeNull();
      await subscribed(url, 2);
      await notify(db.pool, [['hydra_notify_dump_metrics', '']]);
      expect((await queue.nextData()).queueChanged.kind).toBe('HYDRA_NOTIFY_DUMP_METRICS');
      expect(builds.buffered).toBe(0);
      for (const table of ['builds', 'buildsteps', 'jobsetevals', 'jobsets', 'projects', 'users']) {
        expect(await count(db.pool, table), table).toBe(0);
      }

      command.terminate();
      expect(await command.exited()).toEqual({ code: 0, signal: null });
      expect(await publicSchema(db.pool)).toEqual(before);
      expect(readdirSync(command.dataDir)).toEqual([]);
    },
    STARTUP_MS,
  );
});

/** Resolves once the gateway at `url` reports `n` active subscriptions on /metrics. */
async function subscribed(url: string, n: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const metrics = await (await fetch(url.replace(/\/graphql$/, '/metrics'))).text();
    const active = [...metrics.matchAll(/^hng_subscriptions\{transport="\w+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    if (active >= n) return;
    if (Date.now() > deadline) throw new Error(`${n} subscriptions not registered within ${timeoutMs} ms (${active})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
