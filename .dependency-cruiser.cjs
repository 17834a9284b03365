/**
 * The layers of src/, checked by `npm run check` (dependency-cruiser). Each
 * rule names a folder and what it may import; docs/architecture.md explains
 * why. Type-only imports count: a type is a dependency too.
 *
 * Bottom to top: errors.ts, log.ts → db/ → hydra/ → listener/ → journal/ →
 * events/ → consumers/ → webhooks/ → auth/ → schema/ → server/ → gateway.ts → main.ts; simulator/
 * and config.ts stand beside, for main.ts. client/ stands apart: it is what
 * users import (hydra-notify-gateway/client), and imports nothing of the rest.
 * dashboard/ (the browser's code) and src/ import nothing of each other.
 */
const leaf = '^src/(errors|log)\\.ts$';

/** A rule: files under `folder` may import from src/ only what `allowed` matches. */
function layer(name, folder, allowed, comment) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: folder },
    to: { path: '^src/', pathNot: [folder, leaf, ...allowed] },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'Modules form no import cycle: each layer stands on the ones below it only.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'leaf-modules',
      comment: 'errors.ts, log.ts and config.ts import nothing of the gateway: every layer may use them.',
      severity: 'error',
      from: { path: '^src/(errors|log|config)\\.ts$' },
      to: { path: '^src/' },
    },
    layer(
      'db-imports-only-leaves',
      '^src/db/',
      [],
      'db/ (connections, transactions, the internal channels) knows nothing of Hydra or the gateway above it.',
    ),
    layer(
      'hydra-imports-db',
      '^src/hydra/',
      ['^src/db/'],
      "hydra/ is Hydra's database as the gateway reads it: channels, payloads, rows, loaders, its queries.",
    ),
    layer(
      'listener-imports-hydra-db',
      '^src/listener/',
      ['^src/hydra/', '^src/db/'],
      'listener/ owns the LISTEN connection; it hands notifications up through callbacks.',
    ),
    layer(
      'journal-imports-listener-hydra-db',
      '^src/journal/',
      ['^src/listener/', '^src/hydra/', '^src/db/'],
      'journal/ records and reads the journal; what must be written with it (consumers) comes in through RecorderHooks, never an import.',
    ),
    layer(
      'events-imports-journal-hydra-db',
      '^src/events/',
      ['^src/journal/', '^src/hydra/', '^src/db/'],
      'events/ turns journal rows into events and fans them out (pipeline, hub, history, resumption).',
    ),
    layer(
      'consumers-imports-events-and-below',
      '^src/consumers/',
      ['^src/events/', '^src/journal/', '^src/hydra/', '^src/db/'],
      'consumers/ is the consumer service: every consumer and backlog rule, with its transactions and locks.',
    ),
    layer(
      'webhooks-imports-consumers-and-below',
      '^src/webhooks/',
      ['^src/consumers/service\\.ts$', '^src/events/', '^src/journal/(cursor|queries/recorder)\\.ts$', '^src/hydra/', '^src/db/'],
      'webhooks/ is the webhook service and its worker: durable deliveries read from the journal (through events/) or a consumer (through its service); the schema comes in as a CompileSubscription, never an import.',
    ),
    layer(
      'auth-imports-consumer-names-db',
      '^src/auth/',
      ['^src/consumers/names\\.ts$', '^src/db/'],
      'auth/ is tokens, principals and sessions: who may do what; it knows of consumers only their names.',
    ),
    layer(
      'schema-imports-services',
      '^src/schema/',
      [
        '^src/consumers/(service|acknowledgement)\\.ts$',
        '^src/webhooks/(service|plan)\\.ts$',
        '^src/auth/(principal|tokens|sessions)\\.ts$',
        '^src/events/',
        '^src/journal/cursor\\.ts$',
        '^src/hydra/(channels|loaders|payloads|rows)\\.ts$',
        '^src/db/queryable\\.ts$',
      ],
      'schema/ maps GraphQL to one service call: no SQL, no transaction, no lock, so no queries/ module and of db/ only the Queryable type.',
    ),
    layer(
      'server-imports-schema-and-below',
      '^src/server/',
      [
        '^src/schema/',
        '^src/auth/',
        '^src/webhooks/service\\.ts$',
        '^src/consumers/',
        '^src/events/',
        '^src/journal/',
        '^src/listener/',
        '^src/hydra/',
        '^src/db/',
      ],
      'server/ is the transports (HTTP, WebSocket, SSE) and /metrics; only gateway.ts composes it.',
    ),
    layer(
      'simulator-imports-hydra-db',
      '^src/simulator/',
      ['^src/hydra/', '^src/db/'],
      'simulator/ plays Hydra on the embedded database; it knows nothing of the gateway.',
    ),
    {
      name: 'client-imports-only-client',
      comment:
        "client/ is the package's public client (hydra-notify-gateway/client), run in users' services and browsers: it speaks to the gateway over its GraphQL API only and imports nothing of the gateway's own code, not even errors.ts or log.ts.",
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/client/' },
    },
    {
      name: 'only-main-starts-things',
      comment:
        'main.ts (npm start) and cli/ (the hydra-notify-gateway command) compose config, the embedded database, the simulator and the gateway; only they read config.ts, and only cli/ starts main.ts.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/main\\.ts$|^src/cli/|^src/simulator/' },
      to: { path: '^src/(main|config)\\.ts$|^src/simulator/' },
    },
    {
      name: 'dashboard-is-the-browsers',
      comment:
        "dashboard/ is the browser's code (and its build): it talks to the gateway only through the public GraphQL API, never by importing src/.",
      severity: 'error',
      from: { path: '^dashboard/' },
      to: { path: '^src/' },
    },
    {
      name: 'gateway-serves-the-dashboard-as-files',
      comment: 'src/ serves the dashboard as built files (server/dashboard.ts reads dist/dashboard/); it imports nothing of dashboard/.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^dashboard/' },
    },
    {
      name: 'gateway-is-composed-by-main',
      comment: 'gateway.ts composes every layer; only main.ts imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(main|gateway)\\.ts$|^src/cli/' },
      to: { path: '^src/gateway\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|dashboard)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
  },
};
