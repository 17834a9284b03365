/**
 * The hydra-notify-gateway command, run as a real process (the package's
 * bin) on a real database beside a real gateway: every subcommand answers
 * --help; consumers and backlog act through the consumer service (a running
 * gateway sees what they did at once); notify sends what Hydra would send
 * and refuses what it never would; events tail follows the journal, filters
 * and resumes after a cursor; simulate plays Hydra at a chosen rate and
 * stops on --count or Ctrl-C. Exit codes: 0 done, 1 failed, 2 usage.
 */
import { describe, expect, it } from 'vitest';

/**
 * Each CLI run is a process starting tsx: seconds apiece on a machine running other test files
 * (walking every command's --help one after the other took 178 s of 180 on a slow day).
 */
const CLI_TESTS = { timeout: 360_000 };
import pg from 'pg';
import { BuildQueuedDocument, ConsumerBuildFinishedDocument } from '../src/client/generated/operations.js';
import { CHANNELS } from '../src/hydra/channels.js';
import { requestData, subscribed, until } from './support/clients.js';
import { CliCommand, runCli } from './support/command.js';
import { ACK, caughtUp, finishAndNotify, iso } from './support/consumers.js';
import { createTestDatabase, notify } from './support/database.js';
import { test } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';
import { insertBuild, insertBuildsOneByOne } from './support/hydra.js';

/** Runs at most `limit` of the functions given to it at once (the help walk's processes: two cores, other files running). */
function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/** Every command under `prefix`, found by running `--help` on each as a user would: its path and its help. */
async function commandsUnder(
  prefix: string[],
  run: <T>(fn: () => Promise<T>) => Promise<T> = limiter(3),
): Promise<{ path: string; help: string; code: number | null }[]> {
  const { stdout } = await run(() => runCli([...prefix, '--help']));
  const section = stdout.split(/^Commands:$/m)[1] ?? '';
  const names = [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((name) => name !== 'help');
  // A few at a time: each is a process starting tsx, and the machine runs other test files meanwhile.
  const found = await Promise.all(
    names.map(async (name) => {
      const path = [...prefix, name];
      const { stdout: help, code } = await run(() => runCli([...path, '--help']));
      return [{ path: path.join(' '), help, code }, ...(await commandsUnder(path, run))];
    }),
  );
  return found.flat().filter((c, i, all) => all.findIndex((d) => d.path === c.path) === i);
}

describe('--help', CLI_TESTS, () => {
  it('every command and subcommand answers --help with its usage, and exits 0', async () => {
    const commands = await commandsUnder([]);
    const paths = commands.map((c) => c.path);
    for (const expected of [
      'serve',
      'migrate',
      'tokens create',
      'consumers list',
      'consumers redeliver',
      'backlog',
      'events tail',
      'notify',
      'simulate',
      'webhooks create',
    ])
      expect(paths).toContain(expected);
    for (const { path, help, code } of commands) {
      expect(code, path).toBe(0);
      expect(help, path).toMatch(new RegExp(`^Usage: hydra-notify-gateway ${path}\\b`));
    }
  });

  it('a wrong command line exits 2 with the reason', async () => {
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const bad = await runCli(['backlog', '--limit', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("option '--limit <n>' argument 'lots' is invalid");
  });
});

describe('consumers', CLI_TESTS, () => {
  test('create, list, pause, resume, redeliver and remove, as a running gateway sees them', async ({ db, gateway, jobsetId }) => {
    const env = { DATABASE_URL: db.url };
    const created = await runCli(['consumers', 'create', 'release-sync', '--json'], env);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'release-sync', paused: false, pending: 0, oldestPendingSince: null });

    const build = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [build]);
    await caughtUp(db, gateway);
    const listed = await runCli(['consumers', 'list', '--json'], env);
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        name: 'release-sync',
        paused: false,
        pending: 1,
        oldestPendingSince: iso(since).replace('.000', ''),
        createdAt: expect.any(String),
      },
    ]);
    const table = await runCli(['consumers', 'list'], env);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME +STATE +PENDING +OLDEST PENDING +CREATED$/);
    expect(table.stdout.split('\n')[1]).toMatch(/^release-sync +active +1 +\d{4}-/);

    expect((await runCli(['consumers', 'pause', 'release-sync'], env)).stderr).toContain('paused release-sync (paused, 1 pending');
    expect(JSON.parse((await runCli(['consumers', 'list', '--json'], env)).stdout)[0].paused).toBe(true);
    expect((await runCli(['consumers', 'resume', 'release-sync'], env)).code).toBe(0);

    // A subscriber on the running gateway receives the redelivery at once (the service's hint).
    const deliveries = await subscribed(gateway, ConsumerBuildFinishedDocument, { consumer: 'release-sync' });
    expect((await deliveries.nextData()).buildFinished).toMatchObject({ buildId: build, deliveryCount: 1 });
    const redelivered = await runCli(['consumers', 'redeliver', 'release-sync', String(build), '--json'], env);
    expect(JSON.parse(redelivered.stdout)).toEqual({
      consumer: 'release-sync',
      buildId: build,
      pendingSince: iso(since).replace('.000', ''),
    });
    expect((await deliveries.nextData()).buildFinished).toMatchObject({ buildId: build, deliveryCount: 2 });
    deliveries.dispose();

    const removed = await runCli(['consumers', 'remove', 'release-sync'], env);
    expect([removed.code, removed.stderr.trim()]).toEqual([0, 'removed release-sync']);
    expect(JSON.parse((await runCli(['consumers', 'list', '--json'], env)).stdout)).toEqual([]);
  });

  test('refusals: a taken name and an unknown consumer fail with 1, a name no consumer may have is a usage error', async ({ db }) => {
    const env = { DATABASE_URL: db.url };
    expect((await runCli(['consumers', 'create', 'taken'], env)).code).toBe(0);
    const taken = await runCli(['consumers', 'create', 'taken'], env);
    expect([taken.code, taken.stderr]).toEqual([1, expect.stringContaining('(ALREADY_EXISTS)')]);
    const unknown = await runCli(['consumers', 'pause', 'nobody'], env);
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('(NOT_FOUND)')]);
    const bad = await runCli(['consumers', 'create', 'Not A Name'], env);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('(BAD_USER_INPUT)')]);
    const noBuild = await runCli(['consumers', 'redeliver', 'taken', '2000000000'], env);
    expect([noBuild.code, noBuild.stderr]).toEqual([1, expect.stringContaining('(NOT_FOUND)')]);
  });
});

describe('backlog', CLI_TESTS, () => {
  test("Hydra's pending builds or a consumer's, oldest first, filtered, as a table or JSON", async ({
    db,
    gateway,
    jobsetId,
    otherJobsetId,
  }) => {
    const env = { DATABASE_URL: db.url };
    expect((await runCli(['consumers', 'create', 'reporter'], env)).code).toBe(0);
    const now = Math.floor(Date.now() / 1000);
    const [a, b] = await insertBuildsOneByOne(db.pool, jobsetId, 2);
    const c = await insertBuild(db.pool, otherJobsetId, { job: 'manual' });
    await finishAndNotify(db.pool, [b], now - 300);
    await finishAndNotify(db.pool, [a], now - 200);
    await finishAndNotify(db.pool, [c], now - 100);
    await caughtUp(db, gateway);

    const hydra = await runCli(['backlog', '--json'], env);
    expect(hydra.code).toBe(0);
    // Other tests of the file leave builds pending too: these three, in order.
    const items = (JSON.parse(hydra.stdout).items as { buildId: number }[]).filter((i) => [a, b, c].includes(i.buildId));
    expect(JSON.parse(hydra.stdout)).toMatchObject({ consumer: null, hasMore: false });
    expect(items.map((i) => i.buildId)).toEqual([b, a, c]);
    expect(items[2]).toEqual({
      buildId: c,
      pendingSince: iso(now - 100).replace('.000', ''),
      project: 'hydra',
      jobset: 'master',
      job: 'manual',
      system: 'x86_64-linux',
      buildStatus: 'SUCCEEDED',
      buildStatusCode: 0,
      stopTime: iso(now - 100).replace('.000', ''),
    });

    const filtered = JSON.parse((await runCli(['backlog', '--json', '--project', 'hydra', '--limit', '1'], env)).stdout);
    expect([filtered.items.map((i: { buildId: number }) => i.buildId), filtered.hasMore]).toEqual([[c], false]);
    const first = JSON.parse((await runCli(['backlog', '--json', '--limit', '1'], env)).stdout);
    expect([first.items.length, first.hasMore]).toEqual([1, true]);

    // The consumer acknowledges b: gone from its pending set, still pending in Hydra's column for the others.
    await requestData(gateway.url, ACK, { consumer: 'reporter', buildId: b, pendingSince: iso(now - 300) });
    const mine = JSON.parse((await runCli(['backlog', '--consumer', 'reporter', '--json'], env)).stdout);
    expect(mine.items.map((i: { buildId: number }) => i.buildId)).toEqual([a, c]);

    const table = await runCli(['backlog', '--consumer', 'reporter'], env);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^BUILD +PENDING SINCE +AGE +JOBSET +JOB +SYSTEM +STATUS$/);
    expect(lines[1]).toMatch(new RegExp(`^${a} +\\d{4}-\\S+Z +\\d+[sm] +nixpkgs:trunk +hello\\S* +x86_64-linux +SUCCEEDED$`));
    expect(lines[2]).toMatch(new RegExp(`^${c} .* hydra:master +manual `));
    expect(table.stderr.trim()).toBe('2 pending (consumer reporter)');

    const unknown = await runCli(['backlog', '--consumer', 'nobody'], env);
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('(NOT_FOUND)')]);
  });
});

describe('notify', CLI_TESTS, () => {
  test('sends what Hydra sends: subscribers get it, the journal holds the exact payload', async ({ db, gateway, jobsetId }) => {
    const env = { DATABASE_URL: db.url };
    const start = (await db.pool.query('SELECT coalesce(max(position), 0) AS p FROM hydra_notify_gateway.journal')).rows[0].p;
    const id = await insertBuild(db.pool, jobsetId);
    const queued = await subscribed(gateway, BuildQueuedDocument);
    const sent = await runCli(['notify', 'build_queued', String(id)], env);
    expect([sent.code, sent.stderr.trim()]).toEqual([0, `sent NOTIFY build_queued, '${id}'`]);
    expect((await queued.nextData()).buildQueued).toMatchObject({ buildId: id, build: { id } });

    const finished = await runCli(['notify', 'build_finished', '42', '43', '--json'], env);
    expect(JSON.parse(finished.stdout)).toEqual({ channel: 'build_finished', payload: '42\t43' });
    expect((await runCli(['notify', 'eval_started', '183745.123456789.4242', String(jobsetId)], env)).code).toBe(0);
    expect((await runCli(['notify', 'builds_restarted'], env)).code).toBe(0);
    await caughtUp(db, gateway);
    const { rows } = await db.pool.query(
      `SELECT channel, payload FROM hydra_notify_gateway.journal
        WHERE position > $1 AND channel IN ('build_finished', 'eval_started', 'builds_restarted') ORDER BY position`,
      [start],
    );
    expect(rows).toEqual([
      { channel: 'build_finished', payload: '42\t43' },
      { channel: 'eval_started', payload: `183745.123456789.4242\t${jobsetId}` },
      { channel: 'builds_restarted', payload: '' },
    ]);
  });

  test('refuses, with 2 and nothing sent, what Hydra never sends', async ({ db, gateway }) => {
    const env = { DATABASE_URL: db.url };
    const cases: [string[], string][] = [
      [['notify', 'build_finishd', '42'], '"build_finishd" is not a Hydra channel'],
      [['notify', 'build_finished', '42x'], 'expected build_id as a decimal id, found "42x"'],
      [['notify', 'build_queued', '1', '2'], 'expected build_id (1 field), found 2'],
      [['notify', 'step_finished', '42', '1', 'relative.log'], 'expected an absolute log path or "-"'],
      [['notify', 'builds_deleted', 'x'], 'expected an empty payload'],
      [['notify', 'build_queued', '99999999999'], 'out of int4 range'],
    ];
    const before = await db.pool.query('SELECT coalesce(max(position), 0) AS p FROM hydra_notify_gateway.journal');
    for (const [args, reason] of cases) {
      const run = await runCli(args, env);
      expect([run.code, run.stderr], args.join(' ')).toEqual([2, expect.stringContaining(reason)]);
    }
    await caughtUp(db, gateway);
    const { rows } = await db.pool.query(
      `SELECT channel FROM hydra_notify_gateway.journal WHERE position > $1 AND channel <> 'builds_added'`,
      [before.rows[0].p],
    );
    expect(rows).toEqual([]);
  });
});

describe('events tail', CLI_TESTS, () => {
  test('follows the journal as lines or NDJSON, filtered, and resumes after a cursor', async ({ db, gateway, jobsetId, otherJobsetId }) => {
    const env = { DATABASE_URL: db.url };
    const tail = new CliCommand(['events', 'tail', '--json', '--project', 'nixpkgs', '--count', '3'], env);
    await tail.waitFor((c) => c.stderr.includes('following the journal after'), 'the tail ready');
    const [a, b] = await insertBuildsOneByOne(db.pool, jobsetId, 2);
    const other = await insertBuild(db.pool, otherJobsetId);
    await notify(db.pool, [['build_queued', String(a)]]);
    await notify(db.pool, [['build_queued', String(other)]]);
    await notify(db.pool, [
      ['build_queued', String(b)],
      ['build_started', String(a)],
    ]);
    expect(await tail.exited()).toEqual({ code: 0, signal: null });
    const events = tail.lines.map((line) => JSON.parse(line));
    expect(events.map((e) => [e.channel, e.buildId])).toEqual([
      ['build_queued', a],
      ['build_queued', b],
      ['build_started', a],
    ]);
    expect(events[0]).toMatchObject({
      cursor: expect.any(String),
      receivedAt: expect.stringMatching(/^\d{4}-.*Z$/),
      source: 'LIVE',
      payload: String(a),
      build: { id: a, job: expect.any(String), system: 'x86_64-linux', finished: false, buildStatus: null },
      jobset: { project: 'nixpkgs', name: 'trunk' },
    });

    // From the first event's cursor: the two after it at once, as lines ending with their cursors.
    const resumed = await runCli(['events', 'tail', '--after', events[0].cursor, '--project', 'nixpkgs', '--count', '2'], env);
    expect(resumed.code).toBe(0);
    const lines = resumed.stdout.trimEnd().split('\n');
    expect(lines.map((line) => line.split(/\s+/).at(-1))).toEqual([events[1].cursor, events[2].cursor]);
    expect(lines[0]).toMatch(new RegExp(`^\\S+Z +build_queued +build ${b} nixpkgs:trunk \\S+ +${events[1].cursor}$`));
  });

  test('runs until Ctrl-C, which ends it with 0; a malformed cursor is a usage error', async ({ db, gateway }) => {
    const env = { DATABASE_URL: db.url };
    const tail = new CliCommand(['events', 'tail', '--channel', 'builds_added'], env);
    await tail.waitFor((c) => c.stderr.includes('Ctrl-C stops'), 'the tail ready');
    await caughtUp(db, gateway);
    await tail.waitFor((c) => c.lines.length >= 1, 'the marker');
    expect(tail.lines[0]).toMatch(/ builds_added +new builds from \d+ /);
    tail.interrupt();
    expect(await tail.exited()).toEqual({ code: 0, signal: null });

    const bad = await runCli(['events', 'tail', '--after', 'bm90LWEtY3Vyc29y'], env);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('not an event cursor')]);
  });
});

describe('simulate', CLI_TESTS, () => {
  it('plays Hydra on a scratch database at the chosen rate, counts what Postgres delivered, and stops on --count, --duration or Ctrl-C', async () => {
    const db = await createTestDatabase({ empty: true });
    const env = { DATABASE_URL: db.url };
    const refused = await runCli(['simulate', '--count', '1'], env);
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining('has no Hydra tables')]);

    // Whatever the simulator sends, heard independently.
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    onCleanup(() => listener.end());
    let heard = 0;
    listener.on('notification', (n) => (n.channel === 'hng_settled' ? undefined : heard++));

    const run = await runCli(
      ['simulate', '--install-schema', '--eval-every', '50ms', '--runner-every', '20ms', '--count', '40', '--json', '--seed', '7'],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({
      stoppedBy: 'count',
      byChannel: { eval_started: expect.any(Number), build_queued: expect.any(Number) },
    });
    expect(summary.notifications).toBeGreaterThanOrEqual(40);
    expect(Object.values(summary.byChannel).reduce((sum: number, n) => sum + (n as number), 0)).toBe(summary.notifications);
    expect(run.stderr).toMatch(/^created Hydra-compatible tables in DATABASE_URL$/m);
    expect(run.stderr).toMatch(new RegExp(`^simulate: ${summary.notifications} notifications in \\d+s .*; stopped by --count$`, 'm'));

    await listener.query(CHANNELS.map((channel) => `LISTEN ${channel};`).join(' '));
    const running = new CliCommand(['simulate', '--eval-every', '50ms', '--runner-every', '20ms', '--json'], env);
    await until(() => heard >= 20, 30_000, 'twenty notifications heard');
    running.interrupt();
    expect(await running.exited()).toEqual({ code: 0, signal: null });
    const stopped = JSON.parse(running.stdout);
    expect(stopped.stoppedBy).toBe('signal');
    // Everything it counted was delivered: the test's own listener heard as many (a marker after its exit settles it).
    await listener.query('LISTEN hng_settled');
    const settled = new Promise<void>((resolve) => listener.on('notification', (n) => n.channel === 'hng_settled' && resolve()));
    await db.pool.query(`SELECT pg_notify('hng_settled', '')`);
    await settled;
    expect(heard).toBe(stopped.notifications);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM builds')).rows[0].n).toBeGreaterThan(0);
  }, 120_000);
});
