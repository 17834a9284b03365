/**
 * The fault suite (`npm run test:faults`): test/faults/, longer tests with real
 * processes and sockets (a Postgres restarted, gateways SIGKILLed, clients that
 * stop reading, fuzzed payloads, hostile documents). Same Postgres and leak
 * check as `npm test` (vitest.config.ts), one file at a time: the files load
 * the machine and measure memory and latency.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/faults/**/*.test.ts'],
    exclude: [],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
