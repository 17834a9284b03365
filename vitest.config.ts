import { createRequire } from 'node:module';
import { configDefaults, defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (`main`) and ESM (`module`) side by side. Node loads
    // the CJS one for packages in node_modules (Pothos, yoga); Vite would pick
    // the ESM one for our sources, and two copies of graphql reject each
    // other's types. One copy for everyone: the one Node loads.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite is npm run test:faults (vitest.faults.config.ts).
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // Fails a file that leaks a gateway, a pool, a socket, a child process or a subscription.
    setupFiles: ['test/support/leaks.ts'],
    // Files run in parallel, each in a database of its own on one Postgres.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
