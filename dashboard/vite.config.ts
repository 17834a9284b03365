/**
 * Vite's build of the dashboard (`npm run build:dashboard`, run by
 * dashboard/build.ts): two entries, the dashboard's page (index.html) and the
 * script GraphiQL's page loads (src/graphiql/main.ts), into hashed file names
 * under `assets/`, with a manifest the gateway reads to find them
 * (src/server/dashboard.ts). Nothing is loaded from a CDN: every byte comes
 * from node_modules at build time and from the gateway at run time.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  logLevel: 'warn',
  // Preact's JSX, compiled by Vite's own transform: no plugin, nothing at run time but Preact.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    // build.ts picks the folder (a temporary one, renamed into place when complete).
    emptyOutDir: true,
    manifest: true,
    target: 'es2022',
    // The gateway serves each file with Content-Length and precomputed encodings: no inlined assets, no source maps.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
    rolldownOptions: {
      input: {
        dashboard: fileURLToPath(new URL('index.html', import.meta.url)),
        graphiql: fileURLToPath(new URL('src/graphiql/main.ts', import.meta.url)),
      },
    },
  },
});
