/**
 * After every test file (this is a setup file: its `afterAll` is registered
 * first, so it runs after the file's own), every disposer registered with
 * `onCleanup` runs, and then the file fails if it left something behind: a
 * server still listening (a gateway not closed), an open socket (a pool, a
 * client, a WebSocket not ended), a child process still running, or a
 * subscription a gateway kept after its client left.
 */
import { afterAll, expect } from 'vitest';
import { disposeAll, leaks } from './gateway.js';

/** Handles that outlive a file only when something leaked. */
const LEAKY = new Set(['TCPServerWrap', 'TCPSocketWrap', 'ProcessWrap']);

function leftover(): string[] {
  return process.getActiveResourcesInfo().filter((kind) => LEAKY.has(kind));
}

afterAll(async () => {
  await disposeAll();
  // Sockets close a moment after their end() resolved: give them that moment.
  const deadline = Date.now() + 3_000;
  while (leftover().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  const found = [...leaks.splice(0), ...leftover().map((kind) => `an open ${kind} handle`)];
  expect(found, 'what this file left behind').toEqual([]);
});
