/**
 * The README's webhook walk-through, as a reader would follow it: its curl
 * command creates a webhook on a running gateway, and its receiver
 * (examples/webhook-receiver.mjs, quoted verbatim in the README) started
 * with the secret it printed verifies the ping and an event, and refuses a
 * forged request.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { until } from './support/clients.js';
import { notify } from './support/database.js';
import { fixtures } from './support/fixtures.js';
import { onCleanup } from './support/gateway.js';
import { finishBuilds, insertBuild, seedJobset } from './support/hydra.js';
import { freePort } from './support/ports.js';

const ROOT = join(import.meta.dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const test = fixtures({ webhooks: { schedule: [200, 200, 200, 200, 200, 200, 200, 200], timeoutMs: 500, tickMs: 50, leaseMs: 5_000 } });

/** The fenced block right after `<!-- marker -->` in the README. */
function block(marker: string): string {
  const match = new RegExp(`<!-- ${marker} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (!match) throw new Error(`no block after <!-- ${marker} --> in the README`);
  return match[1]!;
}

/** Runs `command` with bash; resolves to its stdout (rejects on a non-zero exit). */
function bash(command: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

describe('the README webhook walk-through', () => {
  test('its curl creates a webhook; its receiver verifies the ping and an event and refuses a forgery', async ({ db, gateway }) => {
    expect(block('webhook-receiver')).toBe(readFileSync(join(ROOT, 'examples', 'webhook-receiver.mjs'), 'utf8'));
    const port = await freePort();
    const curl = block('webhook-create')
      .replace('http://localhost:4000/graphql', gateway.url)
      .replace('http://localhost:8080/', `http://127.0.0.1:${port}/`);
    const answer = JSON.parse(await bash(curl, { TOKEN: gateway.adminToken })) as { data: { createWebhook: { secret: string } } };
    const { secret } = answer.data.createWebhook;
    expect(secret).toMatch(/^whsec_/);

    // The receiver starts after the webhook: the ping is retried until it listens.
    const receiver = spawn(process.execPath, [join(ROOT, 'examples', 'webhook-receiver.mjs')], {
      cwd: ROOT,
      env: { ...process.env, WEBHOOK_SECRET: secret, PORT: String(port) },
    });
    let output = '';
    receiver.stdout.on('data', (c: Buffer) => (output += c));
    onCleanup(async () => {
      receiver.kill();
      await new Promise((resolve) => (receiver.exitCode === null ? receiver.once('close', resolve) : resolve(null)));
    });
    await until(() => output.includes(' ping '), 20_000, 'the ping verified');

    const jobsetId = await seedJobset(db.pool);
    const build = await insertBuild(db.pool, jobsetId, { job: 'hello' });
    await finishBuilds(db.pool, [build], { status: 0 });
    await notify(db.pool, [['build_finished', String(build)]]);
    await until(() => output.includes(' buildFinished '), 20_000, 'the event verified');
    const line = output.split('\n').find((l) => l.includes(' buildFinished '))!;
    expect(JSON.parse(line.split(' ').slice(2).join(' '))).toEqual({
      buildFinished: { buildId: build, build: { job: 'hello', buildStatus: 'SUCCEEDED' } },
    });

    const forged = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: {
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,Zm9yZ2Vk',
      },
      body: JSON.stringify({ buildFinished: { buildId: 1 } }),
    });
    expect(forged.status).toBe(401);
  });
});
