/**
 * The examples of examples/, each run as a user runs it against a real
 * gateway (the start command as a process, on a database of this file's
 * own, restarted where the example must survive it), fed by NOTIFYs sent the
 * way Hydra sends them, inside transactions:
 * - the acknowledging worker (TypeScript, on hydra-notify-gateway/client as
 *   built into dist/) processes every finished build once, also those that
 *   finished while the gateway was down;
 * - the browser snippet (EventSource; here the `eventsource` package, which
 *   implements the same standard) resumes with Last-Event-ID after a restart;
 * - the shell script (curl over SSE) prints each finished build and resumes
 *   after the cursor it printed last;
 * - the Python script (standard library only) reads a consumer's backlog and
 *   acknowledges it.
 */
import { EventSource } from 'eventsource';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventsPageDocument } from '../src/client/generated/operations.js';
import { requestData, until } from './support/clients.js';
import { CliCommand, runCli, StartCommand, STARTUP_MS, tempDir } from './support/command.js';
import { finishAndNotify } from './support/consumers.js';
import { createTestDatabase, notify, type TestDatabase } from './support/database.js';
import { adminTokens } from './support/gateway.js';
import { insertBuild, insertBuildsOneByOne, seedJobset } from './support/hydra.js';
import { freePort } from './support/ports.js';

let db: TestDatabase;
let jobsetId: number;
let port: number;
let url: string;
let gateway: StartCommand;
let env: Record<string, string>;

/** Starts the gateway as `npm start` does (on the file's database), resolved once it records the journal. */
async function startGateway(): Promise<StartCommand> {
  const command = new StartCommand({ DATABASE_URL: db.url, PORT: String(port), HNG_LOG_LEVEL: 'info' }, tempDir());
  await command.waitForLog('recording the journal');
  return command;
}

/** Stops the gateway (SIGTERM, as a service manager does) and starts it again on the same port. */
async function restartGateway(between?: () => Promise<void>): Promise<void> {
  gateway.terminate();
  expect(await gateway.exited()).toEqual({ code: 0, signal: null });
  await between?.();
  gateway = await startGateway();
}

/** A token made with the CLI, as an operator makes it. */
async function token(name: string, ...args: string[]): Promise<string> {
  const run = await runCli(['tokens', 'create', '--name', name, ...args], env);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trim();
}

beforeAll(async () => {
  db = await createTestDatabase();
  jobsetId = await seedJobset(db.pool);
  port = await freePort();
  url = `http://127.0.0.1:${port}/graphql`;
  env = { DATABASE_URL: db.url };
  gateway = await startGateway();
  adminTokens.set(new URL(url).origin, await token('examples-admin', '--scope', 'admin'));
}, STARTUP_MS);

describe('examples/worker.ts', () => {
  it(
    'processes every finished build once and acknowledges it, across a gateway restart during which builds finished',
    async () => {
      expect((await runCli(['consumers', 'create', 'release-sync'], env)).code).toBe(0);
      const secret = await token('release-sync', '--scope', 'ack', '--consumer', 'release-sync');
      const worker = CliCommand.of(process.execPath, ['--import', 'tsx', 'examples/worker.ts'], {
        GATEWAY_URL: url,
        GATEWAY_TOKEN: secret,
        CONSUMER: 'release-sync',
      });
      const records = () => worker.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      const acknowledged = (id: number) => records().some((r) => r.acknowledged === id && r.outcome === 'ACKNOWLEDGED');
      await worker.waitFor((w) => w.stderr.includes('worker: connected'), 'the worker connected');

      const [a, b, c, d] = await insertBuildsOneByOne(db.pool, jobsetId, 4);
      await finishAndNotify(db.pool, [a, b]);
      await worker.waitFor(() => acknowledged(a) && acknowledged(b), 'a and b acknowledged');

      // The gateway restarts; c finishes while it is down (its NOTIFY reaches nobody), d after.
      await restartGateway(() => finishAndNotify(db.pool, [c]).then(() => undefined));
      await finishAndNotify(db.pool, [d]);
      await worker.waitFor(() => acknowledged(c) && acknowledged(d), 'c and d acknowledged', 60_000);

      const processed = records().filter((r) => 'processed' in r);
      expect(processed.map((r) => r.processed).sort()).toEqual([a, b, c, d].sort());
      expect(processed[0]).toMatchObject({ jobset: 'nixpkgs:trunk', status: 'SUCCEEDED', pendingSince: expect.stringMatching(/Z$/) });
      expect(records().filter((r) => 'acknowledged' in r && r.outcome !== 'ACKNOWLEDGED')).toEqual([]);
      expect(worker.stderr).toMatch(/worker: disconnected \(1001\)/);
      const backlog = JSON.parse((await runCli(['backlog', '--consumer', 'release-sync', '--json'], env)).stdout);
      expect(backlog.items).toEqual([]);

      worker.terminate();
      expect(await worker.exited()).toEqual({ code: 0, signal: null });
    },
    3 * STARTUP_MS,
  );
});

describe('examples/browser/live-builds.js', () => {
  it(
    'shows builds after the saved cursor, then live ones, and after a gateway restart resumes with Last-Event-ID: nothing twice',
    async () => {
      const secret = await token('dashboard', '--scope', 'read');
      const ids = await insertBuildsOneByOne(db.pool, jobsetId, 5);
      for (const id of ids.slice(0, 3)) await notify(db.pool, [['build_queued', String(id)]]);
      const journal = await requestData(url, EventsPageDocument, { channels: ['BUILD_QUEUED'], filter: { buildId: ids[0] } });
      // The journal's pages always carry gaps (the worker's restart left one): the build's own event.
      const saved = journal.events.edges.find((edge) => edge.node.__typename === 'BuildQueuedEvent')!.cursor;

      // A page loaded earlier saved the cursor of the first build.
      const stored = new Map<string, string>([[`hydra-notify-gateway:cursor:${url}`, saved]]);
      const storage = {
        getItem: (key: string) => stored.get(key) ?? null,
        setItem: (key: string, value: string) => void stored.set(key, value),
      };
      const shown: { channel: string; buildId?: number; cursor: string }[] = [];
      const states: string[] = [];
      const snippet = new URL('../examples/browser/live-builds.js', import.meta.url).href;
      const { followBuilds } = (await import(snippet)) as { followBuilds: (options: Record<string, unknown>) => () => void };
      const stop = followBuilds({
        url,
        token: secret,
        storage,
        EventSource: EventSource as unknown as typeof globalThis.EventSource,
        onEvent: (event: { channel: string; buildId?: number; cursor: string }) => shown.push(event),
        onState: (state: string) => states.push(state),
      });
      try {
        await until(() => shown.length === 2, 20_000, 'the two builds after the saved cursor');
        await notify(db.pool, [['build_queued', String(ids[3])]]);
        await until(() => shown.length === 3, 10_000, 'a live one');

        await restartGateway();
        await until(() => states.filter((s) => s === 'open').length === 2, 30_000, 'the EventSource open again');
        await notify(db.pool, [['build_queued', String(ids[4])]]);
        await until(() => shown.some((e) => e.buildId === ids[4]), 10_000, 'a live one after the restart');

        expect(shown.map((e) => (e.channel === 'gap' ? 'gap' : e.buildId))).toEqual([ids[1], ids[2], ids[3], 'gap', ids[4]]);
        expect(states).toContain('reconnecting');
        expect(stored.get(`hydra-notify-gateway:cursor:${url}`)).toBe(shown.at(-1)!.cursor);
      } finally {
        stop();
      }
    },
    3 * STARTUP_MS,
  );
});

describe('examples/follow-builds.sh', { timeout: 120_000 }, () => {
  it('prints each finished build with its cursor, and resumes after the cursor it printed last', async () => {
    const secret = await token('follower', '--scope', 'read');
    const vars = { GATEWAY_URL: url, GATEWAY_TOKEN: secret, PROJECT: 'nixpkgs' };
    const [a, b, c, d] = await insertBuildsOneByOne(db.pool, jobsetId, 4);
    const parse = (line: string) => {
      const [cursor, json] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
      return { cursor, buildFinished: JSON.parse(json).data.buildFinished as { buildId: number; build: { buildStatus: string } } };
    };

    const first = CliCommand.of('bash', ['examples/follow-builds.sh'], vars);
    await first.waitFor((s) => s.stderr.includes('following finished builds at'), 'the stream open');
    await finishAndNotify(db.pool, [a, b]);
    await first.waitFor((s) => s.lines.length === 2, 'two builds');
    const seen = first.lines.map(parse);
    expect(seen.map((e) => e.buildFinished.buildId)).toEqual([a, b]);
    expect(seen[0]!.buildFinished.build.buildStatus).toBe('SUCCEEDED');
    first.terminateGroup();
    await first.exited();

    // c finishes while the script is not running; the next run starts after b.
    await finishAndNotify(db.pool, [c]);
    const second = CliCommand.of('bash', ['examples/follow-builds.sh'], { ...vars, LAST_EVENT_ID: seen[1]!.cursor });
    await second.waitFor((s) => s.lines.length === 1, 'the build missed');
    await finishAndNotify(db.pool, [d]);
    await second.waitFor((s) => s.lines.length === 2, 'a live one');
    expect(second.lines.map((line) => parse(line).buildFinished.buildId)).toEqual([c, d]);
    second.terminateGroup();
    await second.exited();

    const refused = await CliCommand.of('bash', ['examples/follow-builds.sh'], { GATEWAY_URL: url }).exited();
    expect(refused.code).not.toBe(0);
  });
});

describe('examples/backlog.py', { timeout: 120_000 }, () => {
  it("lists a consumer's pending builds and acknowledges them, with Python's standard library", async () => {
    expect((await runCli(['consumers', 'create', 'reporter'], env)).code).toBe(0);
    const secret = await token('reporter', '--scope', 'ack', '--consumer', 'reporter');
    const vars = { GATEWAY_URL: url, GATEWAY_TOKEN: secret };
    const ids = [await insertBuild(db.pool, jobsetId, { job: 'hello.x86_64-linux' }), await insertBuild(db.pool, jobsetId)];
    const now = Math.floor(Date.now() / 1000);
    await finishAndNotify(db.pool, [ids[0]!], now - 60);
    await finishAndNotify(db.pool, [ids[1]!], now - 30);
    let pending = 0;
    await until(
      () => pending === 2,
      10_000,
      'both pending for reporter',
      async () => void (pending = JSON.parse((await runCli(['backlog', '--consumer', 'reporter', '--json'], env)).stdout).items.length),
    );

    const listed = CliCommand.of('python3', ['examples/backlog.py', '--consumer', 'reporter'], vars);
    expect(await listed.exited()).toEqual({ code: 0, signal: null });
    expect(listed.lines).toEqual([
      `pending ${ids[0]} nixpkgs:trunk hello.x86_64-linux SUCCEEDED since ${new Date((now - 60) * 1000).toISOString()}`,
      expect.stringMatching(new RegExp(`^pending ${ids[1]} nixpkgs:trunk \\S+ SUCCEEDED since \\S+Z$`)),
    ]);

    const acknowledged = CliCommand.of('python3', ['examples/backlog.py', '--consumer', 'reporter', '--acknowledge'], vars);
    expect(await acknowledged.exited()).toEqual({ code: 0, signal: null });
    expect(acknowledged.lines.slice(2)).toEqual([`acknowledged ${ids[0]} ACKNOWLEDGED`, `acknowledged ${ids[1]} ACKNOWLEDGED`]);
    const again = CliCommand.of('python3', ['examples/backlog.py', '--consumer', 'reporter'], vars);
    expect(await again.exited()).toEqual({ code: 0, signal: null });
    expect(again.lines).toEqual([]);

    const anonymous = CliCommand.of('python3', ['examples/backlog.py', '--consumer', 'reporter'], { GATEWAY_URL: url });
    expect((await anonymous.exited()).code).toBe(1);
    expect(anonymous.stderr).toContain('(UNAUTHENTICATED)');
  });
});
