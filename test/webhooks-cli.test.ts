/**
 * `hydra-notify-gateway webhooks …`, the real command, on the database of a
 * running gateway: what the CLI creates or changes reaches the instance
 * delivering it (through the database), and its output and exit codes are
 * what a script relies on.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { describe, expect } from 'vitest';
import { until } from './support/clients.js';
import { runCli } from './support/command.js';
import { notify } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import { insertBuild } from './support/hydra.js';
import { startReceiver } from './support/receiver.js';

const test = fixtures({ webhooks: { schedule: [100, 200], timeoutMs: 500, tickMs: 50, leaseMs: 5_000 } });

describe('hydra-notify-gateway webhooks', () => {
  test('create, list, deliveries, disable, enable, ping, rotate-secret, redeliver, redeliver-since, remove', async ({
    db,
    gateway,
    jobsetId,
  }) => {
    const vars = { DATABASE_URL: db.url };
    const receiver = await startReceiver();
    const file = join(mkdtempSync(join(tmpdir(), 'hng-cli-')), 'queued.graphql');
    writeFileSync(file, 'subscription ($f: EventFilter) { buildQueued(filter: $f) { buildId cursor } }\n');
    const created = await runCli(
      [
        'webhooks',
        'create',
        '--name',
        'cli-hook',
        '--url',
        receiver.url,
        '--subscription',
        `@${file}`,
        '--variables',
        '{"f":{"job":"cli-job"}}',
        '--json',
      ],
      vars,
    );
    expect(created.code, created.stderr).toBe(0);
    const { secret, webhook } = JSON.parse(created.stdout) as { secret: string; webhook: Record<string, unknown> };
    expect(secret).toMatch(/^whsec_/);
    expect(webhook).toMatchObject({ name: 'cli-hook', kind: 'http', state: 'active', secrets: 1 });
    expect(created.stdout).not.toContain('"authorization"');

    // The gateway heard of it through the database and pings the endpoint.
    const [ping] = await receiver.received(1);
    expect(new Webhook(secret).verify(ping!.body, ping!.headers)).toMatchObject({ ping: { webhook: 'cli-hook' } });
    const id = await insertBuild(db.pool, jobsetId, { job: 'cli-job' });
    await notify(db.pool, [['build_queued', String(id)]]);
    const [, event] = await receiver.received(2);
    expect(event!.json).toMatchObject({ buildQueued: { buildId: id } });

    const list = await runCli(['webhooks', 'list'], vars);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      new RegExp(`^cli-hook http ${receiver.url.replace(/[/.]/g, '\\$&')} active backlog=0 dead=0 last=200@`, 'm'),
    );

    let deliveries = await runCli(['webhooks', 'deliveries', 'cli-hook', '--json'], vars);
    const rows = JSON.parse(deliveries.stdout) as {
      id: number;
      eventType: string;
      state: string;
      log: { status: number; instance: string }[];
    }[];
    expect(rows.map((d) => [d.eventType, d.state])).toEqual([
      ['buildQueued', 'delivered'],
      ['ping', 'delivered'],
    ]);
    expect(rows[0]!.log).toEqual([expect.objectContaining({ status: 200, instance: gateway.instance })]);
    deliveries = await runCli(['webhooks', 'deliveries', 'cli-hook'], vars);
    expect(deliveries.stdout).toMatch(/^\d+ delivered buildQueued attempts=1 last=200 msg_\d+_\d+ /m);
    expect(deliveries.stdout).toMatch(/^ {2}#1 \S+ 200 \d+ms /m);

    const disabled = await runCli(['webhooks', 'disable', 'cli-hook', '--reason', 'endpoint moving'], vars);
    expect(disabled.stderr).toContain('disabled (endpoint moving)');
    expect((await runCli(['webhooks', 'list'], vars)).stdout).toContain('cli-hook http');
    expect((await runCli(['webhooks', 'enable', 'cli-hook'], vars)).code).toBe(0);

    const rotated = await runCli(['webhooks', 'rotate-secret', 'cli-hook'], vars);
    const next = rotated.stdout.trim();
    expect(next).toMatch(/^whsec_/);
    // The running gateway may deliver it before the CLI prints it.
    expect((await runCli(['webhooks', 'ping', 'cli-hook'], vars)).stdout).toMatch(
      /^\d+ (pending ping attempts=0|delivered ping attempts=1 last=200)/,
    );
    const [, , pinged] = await receiver.received(3);
    expect(new Webhook(next).verify(pinged!.body, pinged!.headers)).toMatchObject({ ping: { webhook: 'cli-hook' } });
    expect(new Webhook(secret).verify(pinged!.body, pinged!.headers)).toMatchObject({ ping: { webhook: 'cli-hook' } });

    expect((await runCli(['webhooks', 'redeliver', String(rows[0]!.id)], vars)).stdout).toMatch(/(pending|delivered) buildQueued/);
    const [, , , again] = await receiver.received(4);
    expect(again!.headers['webhook-id']).toBe(event!.headers['webhook-id']);
    const cursor = (event!.json as { buildQueued: { cursor: string } }).buildQueued.cursor;
    const before = await runCli(['webhooks', 'redeliver-since', 'cli-hook', cursor], vars);
    expect(before.code, before.stderr).toBe(0);

    // Scripts can tell a wrong command line (2) from a refusal (1).
    expect((await runCli(['webhooks', 'create', '--name', 'x', '--url', receiver.url, '--subscription', 'query { x }'], vars)).code).toBe(
      2,
    );
    expect(
      (
        await runCli(
          [
            'webhooks',
            'create',
            '--name',
            'x',
            '--url',
            receiver.url,
            '--subscription',
            'subscription { buildQueued { buildId } }',
            '--variables',
            '{',
          ],
          vars,
        )
      ).code,
    ).toBe(2);
    const unknown = await runCli(['webhooks', 'enable', 'nope'], vars);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no webhook named "nope" (NOT_FOUND)');

    // A reporter's token comes from the environment, never the command line, and is never printed.
    const reporter = await runCli(
      [
        'webhooks',
        'create-status',
        '--name',
        'gh',
        '--provider',
        'github',
        '--base-url',
        'http://127.0.0.1:9/api',
        '--authorization-env',
        'FORGE_TOKEN',
        '--hydra-url',
        'https://hydra.example.org',
        '--input',
        'src',
      ],
      { ...vars, FORGE_TOKEN: 'token ghp_secret' },
    );
    expect(reporter.code, reporter.stderr).toBe(0);
    const listed = await runCli(['webhooks', 'list', '--json'], vars);
    expect(listed.stdout).not.toContain('ghp_secret');
    expect(JSON.parse(listed.stdout).find((w: { name: string }) => w.name === 'gh')).toMatchObject({
      kind: 'commit-status',
      options: { provider: 'github', rules: [{ jobs: '.*', inputs: ['src'] }] },
    });
    expect(
      (
        await runCli(
          [
            'webhooks',
            'create-status',
            '--name',
            'gh2',
            '--provider',
            'github',
            '--authorization-env',
            'UNSET_VAR',
            '--hydra-url',
            'https://h',
          ],
          vars,
        )
      ).code,
    ).toBe(2);

    expect((await runCli(['webhooks', 'remove', 'cli-hook'], vars)).code).toBe(0);
    await until(() => !gateway.webhookWorker.delivering.includes('cli-hook'), 10_000, 'no longer delivered');
  }, 240_000);

  test('every subcommand has --help', async () => {
    const subs = [
      'list',
      'create',
      'create-status',
      'enable',
      'disable',
      'remove',
      'ping',
      'rotate-secret',
      'deliveries',
      'redeliver',
      'redeliver-since',
    ];
    const runs = await Promise.all(subs.map((sub) => runCli(['webhooks', sub, '--help'])));
    for (const [i, run] of runs.entries()) {
      expect(run.code, subs[i]).toBe(0);
      expect(run.stdout, subs[i]).toContain(`Usage: hydra-notify-gateway webhooks ${subs[i]}`);
    }
  }, 180_000);
});
