/**
 * Starting and stopping the start command where things get in the way, as a
 * new user meets them, with the real CLI and its embedded Postgres:
 * - a second start on a data folder another gateway uses says so and leaves
 *   that gateway and its database alone;
 * - a start after the gateway was SIGKILLed (its Postgres left running,
 *   orphaned) stops that Postgres by itself and serves, with the data kept;
 * - the embedded Postgres's port taken by another program is said plainly,
 *   and so is a data folder the `postgres` user cannot reach (run as root);
 * - Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops
 *   quietly: the database outlives the gateway's use of it, no warning;
 * - a stop whose database step hangs (its postmaster frozen with SIGSTOP)
 *   still exits by HNG_SHUTDOWN_GRACE_MS, non-zero, and its Postgres is shut
 *   down once it can act: nothing is left running.
 */
import { createServer, type AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestData, subscribeWs, wsClient } from './support/clients.js';
import {
  hasRecord,
  postmasterGone,
  postmasterPid,
  STACK_FRAME,
  adminTokenWithCli,
  StartCommand,
  STARTUP_MS,
  tempDir,
  WARN_OR_ERROR,
  watchedSocket,
} from './support/command.js';
import { CONSUME, CREATE, doc } from './support/consumers.js';
import { freePort } from './support/ports.js';
import { BuildQueuedDocument } from '../src/client/generated/operations.js';

const CONSUMER = doc<{ consumer: { name: string } | null }, { name: string }>('query ($name: String!) { consumer(name: $name) { name } }');

/** A running start command and what a test needs of it. */
interface Started {
  command: StartCommand;
  url: string;
  pgPort: number;
}

/** Starts the command on `dataDir` (embedded Postgres); resolves once it serves and records. */
async function start(dataDir: string, vars: Record<string, string> = {}, pgPort?: number): Promise<Started> {
  const port = await freePort();
  pgPort ??= await freePort();
  const env = { PORT: String(port), HNG_EMBEDDED_PG_PORT: String(pgPort), HNG_SIMULATOR: 'off', ...vars };
  const command = new StartCommand(env, dataDir);
  await command.waitForLog('in a browser for GraphiQL');
  await command.waitForLog('recording the journal');
  const url = `http://127.0.0.1:${port}/graphql`;
  // Anonymous clients of the embedded demo may only read: the test acts as an operator with a token.
  await adminTokenWithCli(url, env);
  return { command, url, pgPort };
}

/** The last line the command printed. */
const lastLine = (command: StartCommand) => command.stderr.trimEnd().split('\n').at(-1);

describe('npm start on a data folder in use', () => {
  it(
    'a second start while the first runs says so, and leaves the first and its database alone',
    async () => {
      const dataDir = tempDir();
      const first = await start(dataDir);
      const postmaster = postmasterPid(dataDir)!;
      expect(postmaster).toBeGreaterThan(0);

      // The same command again, as a newcomer would type it in a second terminal.
      const second = new StartCommand({ PORT: String(await freePort()), HNG_EMBEDDED_PG_PORT: String(first.pgPort) }, dataDir);
      expect((await second.exited(STARTUP_MS)).code).toBe(1);
      expect(lastLine(second)).toBe(
        `hydra-notify-gateway: the embedded Postgres in ${dataDir} is in use by another gateway (pid ${first.command.pid}): ` +
          'stop that one first, or give this one its own HNG_DATA_DIR, HNG_EMBEDDED_PG_PORT and PORT',
      );
      expect(second.stderr).not.toMatch(STACK_FRAME);

      // The first one did not notice.
      expect(postmasterPid(dataDir)).toBe(postmaster);
      expect((await requestData(first.url, CREATE, { name: 'still-here' })).createConsumer.name).toBe('still-here');
      first.command.terminate();
      expect(await first.command.exited()).toEqual({ code: 0, signal: null });
      expect(first.command.stderr).not.toMatch(WARN_OR_ERROR);
    },
    STARTUP_MS * 2,
  );

  it(
    'after the gateway was SIGKILLed, the next start stops the Postgres it left running, by itself, and serves',
    async () => {
      const dataDir = tempDir();
      const first = await start(dataDir);
      await requestData(first.url, CREATE, { name: 'before-the-kill' });
      const orphan = postmasterPid(dataDir)!;
      process.kill(first.command.pid, 'SIGKILL');
      await first.command.exited();
      // What the user is left with: the embedded Postgres still running, its owner gone.
      expect(postmasterPid(dataDir)).toBe(orphan);

      const second = await start(dataDir, {}, first.pgPort);
      expect(
        hasRecord(second.command.stderr, 'stopping the embedded postgres an earlier run left running', {
          level: 'info',
          component: 'embedded-postgres',
          postgresPid: orphan,
        }),
      ).toBe(true);
      expect(postmasterPid(dataDir)).not.toBe(orphan);
      await postmasterGone(orphan, dataDir);
      expect((await requestData(second.url, CONSUMER, { name: 'before-the-kill' })).consumer).toEqual({ name: 'before-the-kill' });

      second.command.terminate();
      expect(await second.command.exited()).toEqual({ code: 0, signal: null });
      expect(postmasterPid(dataDir)).toBeNull();
    },
    STARTUP_MS * 2,
  );

  it(
    "says the embedded Postgres's port is in use, plainly, and leaves nothing running",
    async () => {
      const busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      const { port } = busy.address() as AddressInfo;
      try {
        const dataDir = tempDir();
        const command = new StartCommand({ PORT: String(await freePort()), HNG_EMBEDDED_PG_PORT: String(port) }, dataDir);
        expect((await command.exited(STARTUP_MS)).code).toBe(1);
        expect(lastLine(command)).toBe(
          `hydra-notify-gateway: the embedded Postgres cannot listen on 127.0.0.1:${port}: the port is in use ` +
            '(another Postgres, or another program?): stop that, or set HNG_EMBEDDED_PG_PORT to a free port',
        );
        expect(command.stderr).not.toMatch(STACK_FRAME);
        expect(postmasterPid(dataDir)).toBeNull();
        // The folder is free for the next start.
        expect(existsSync(join(dataDir, 'gateway.pid'))).toBe(false);
      } finally {
        busy.close();
      }
    },
    STARTUP_MS,
  );
});

describe('npm start on a data folder Postgres cannot reach', () => {
  // Only root has a `postgres` user to run the server as; anyone else runs it as themselves.
  it.skipIf(process.getuid?.() !== 0)(
    'run as root, says the folders above the data folder must let the postgres user through',
    async () => {
      // mkdtemp makes its folder 0700: the postgres user cannot pass it.
      const dataDir = join(tempDir(), 'data');
      const command = new StartCommand({ PORT: String(await freePort()), HNG_EMBEDDED_PG_PORT: String(await freePort()) }, dataDir);
      expect((await command.exited(STARTUP_MS)).code).toBe(1);
      expect(lastLine(command)).toMatch(
        new RegExp(`^hydra-notify-gateway: cannot initialise the embedded Postgres in ${dataDir}/postgres: .*Permission denied`),
      );
      expect(lastLine(command)).toContain('every folder above the data folder must let it through, chmod o+x');
      expect(command.stderr).not.toMatch(STACK_FRAME);
    },
    STARTUP_MS,
  );
});

describe('stopping npm start', () => {
  it(
    'Ctrl-C stops it quietly: the database outlives the gateway, and no warning is printed',
    async () => {
      const dataDir = tempDir();
      // In use, as a demo is: the simulator writing, the recorder journaling, subscribers reading.
      const { command, url } = await start(dataDir, { HNG_SIMULATOR: 'on', HNG_SIMULATOR_EVAL_MS: '500', HNG_SIMULATOR_RUNNER_MS: '200' });
      await requestData(url, CREATE, { name: 'ctrl-c' });
      subscribeWs(wsClient(url), CONSUME, { consumer: 'ctrl-c' });
      await subscribeWs(wsClient(url), BuildQueuedDocument).nextData(60_000);
      const postmaster = postmasterPid(dataDir)!;

      command.interrupt();
      expect(await command.exited()).toEqual({ code: 0, signal: null });
      expect(hasRecord(command.stderr, 'shutting down', { level: 'info', signal: 'SIGINT' })).toBe(true);
      expect(command.stderr).not.toMatch(WARN_OR_ERROR);
      expect(command.stderr).not.toMatch(STACK_FRAME);
      expect(command.stderr).toMatch(/\n\{"level":"info",[^\n]*"msg":"stopped"\}\n$/);
      await postmasterGone(postmaster, dataDir);
    },
    STARTUP_MS + 60_000,
  );

  it(
    'a stop whose database step hangs still exits by HNG_SHUTDOWN_GRACE_MS, non-zero, and leaves nothing running',
    async () => {
      const dataDir = tempDir();
      const { command, url } = await start(dataDir, { HNG_SHUTDOWN_GRACE_MS: '3000' });
      const socket = watchedSocket(url);
      expect(await subscribeWs(socket.client, CONSUMER, { name: 'x' }).nextData()).toEqual({ consumer: null });
      const postmaster = postmasterPid(dataDir)!;
      // The database stops answering its signals (a hung disk, say): its stop cannot finish.
      process.kill(postmaster, 'SIGSTOP');
      try {
        const stopping = Date.now();
        command.terminate();
        const exit = await command.exited(15_000);
        const took = Date.now() - stopping;
        expect(exit.code).toBe(1);
        expect(took).toBeGreaterThanOrEqual(3000);
        expect(took).toBeLessThan(3000 + 5000);
        expect(
          hasRecord(command.stderr, 'shutdown did not finish within 3000 ms (HNG_SHUTDOWN_GRACE_MS); exiting now', {
            level: 'error',
            waitingFor: 'embedded postgres',
          }),
        ).toBe(true);
        expect(command.stderr).not.toMatch(STACK_FRAME);
        // Everything before the database still stopped on time.
        expect(await socket.code).toBe(1001);
      } finally {
        process.kill(postmaster, 'SIGCONT');
      }
      // Once it can act, it has an immediate shutdown waiting: no orphan.
      await postmasterGone(postmaster, dataDir);
    },
    STARTUP_MS + 30_000,
  );
});
