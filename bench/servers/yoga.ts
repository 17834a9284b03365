/**
 * "Plain yoga": the server a user would write by hand for the fan-out
 * subscription. graphql-yoga over `node:http` (SSE included, yoga's own),
 * graphql-ws's `useServer` on a `ws` server at the same path (wired to yoga's
 * envelop as yoga's documentation shows), a small hand-written schema, a
 * yoga pub/sub fed by one `pg` LISTEN client, and per event one set of
 * DataLoaders (builds by id, jobsets by id, projects by name) shared by
 * every subscriber of that event.
 *
 * Contract: every subscriber's operation is executed and serialised on its
 * own (that is the point of comparison: per-subscriber execution, rows loaded
 * once per event, one statement per table). The pub/sub's repeaters get a
 * large fixed buffer so that a burst cannot overflow a repeater's 1,024
 * pending pushes and crash the process; nothing else departs from the plain
 * setup.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import DataLoader from 'dataloader';
import type { ExecutionArgs } from 'graphql';
import type { OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createSchema, createYoga, FixedBuffer } from 'graphql-yoga';
import pg from 'pg';
import { WebSocketServer } from 'ws';
import { runServerChild } from './child.js';

interface BuildRow {
  id: number;
  job: string;
  system: string;
  jobset_id: number;
}
interface JobsetRow {
  id: number;
  name: string;
  project: string;
}
interface ProjectRow {
  name: string;
}

/** The loaders of one event. */
interface Loaders {
  build: DataLoader<number, BuildRow | null>;
  jobset: DataLoader<number, JobsetRow | null>;
  project: DataLoader<string, ProjectRow | null>;
}

type WithLoaders<T> = T & { loaders: Loaders };

function byKey<K, T>(keys: readonly K[], rows: T[], key: (row: T) => K): (T | null)[] {
  const index = new Map(rows.map((row) => [key(row), row]));
  return keys.map((k) => index.get(k) ?? null);
}

function createLoaders(pool: pg.Pool): Loaders {
  return {
    build: new DataLoader(async (ids) => {
      const { rows } = await pool.query<BuildRow>(
        '/* yogaBuilds */ SELECT id, job, system, jobset_id FROM builds WHERE id = ANY($1::int[])',
        [ids],
      );
      return byKey(ids, rows, (r) => r.id);
    }),
    jobset: new DataLoader(async (ids) => {
      const { rows } = await pool.query<JobsetRow>('/* yogaJobsets */ SELECT id, name, project FROM jobsets WHERE id = ANY($1::int[])', [
        ids,
      ]);
      return byKey(ids, rows, (r) => r.id);
    }),
    project: new DataLoader(async (names) => {
      const { rows } = await pool.query<ProjectRow>('/* yogaProjects */ SELECT name FROM projects WHERE name = ANY($1::text[])', [names]);
      return byKey(names, rows, (r) => r.name);
    }),
  };
}

const typeDefs = /* GraphQL */ `
  type Project {
    name: String!
  }
  type Jobset {
    name: String!
    project: Project
  }
  type Build {
    id: Int!
    job: String!
    system: String!
    jobset: Jobset
  }
  type BuildStartedEvent {
    buildId: Int!
    build: Build
  }
  type Query {
    ok: Boolean!
  }
  type Subscription {
    buildStarted: BuildStartedEvent!
  }
`;

runServerChild(async (connectionString) => {
  const pool = new pg.Pool({ connectionString, max: 10, application_name: 'bench-yoga' });
  pool.on('error', () => {});
  const listen = new pg.Client({ connectionString, application_name: 'bench-yoga-listen' });
  await listen.connect();
  const pubSub = createPubSub<{ buildStarted: [WithLoaders<{ buildId: number }>] }>({ repeaterBuffer: new FixedBuffer(100_000) });
  listen.on('notification', (message) =>
    pubSub.publish('buildStarted', { buildId: Number(message.payload), loaders: createLoaders(pool) }),
  );
  await listen.query('LISTEN build_started');

  const load = async <T extends object>(loaders: Loaders, row: Promise<T | null>): Promise<WithLoaders<T> | null> => {
    const found = await row;
    return found ? { ...found, loaders } : null;
  };
  const schema = createSchema({
    typeDefs,
    resolvers: {
      Query: { ok: () => true },
      Subscription: {
        buildStarted: { subscribe: () => pubSub.subscribe('buildStarted'), resolve: (event: WithLoaders<{ buildId: number }>) => event },
      },
      BuildStartedEvent: { build: (e: WithLoaders<{ buildId: number }>) => load(e.loaders, e.loaders.build.load(e.buildId)) },
      Build: { jobset: (b: WithLoaders<BuildRow>) => load(b.loaders, b.loaders.jobset.load(b.jobset_id)) },
      Jobset: { project: (j: WithLoaders<JobsetRow>) => load(j.loaders, j.loaders.project.load(j.project)) },
    },
  });
  const yoga = createYoga({ schema, graphqlEndpoint: '/graphql', landingPage: false, graphiql: false, logging: 'warn' });
  const server = createServer(yoga);
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const ws = useServer(
    {
      execute: (args: ExecutionArgs) => (args.rootValue as Enveloped).execute(args),
      subscribe: (args: ExecutionArgs) => (args.rootValue as Enveloped).subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        return {
          schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    async close() {
      await ws.dispose();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([listen.end(), pool.end()]);
    },
  };
});

/** yoga's envelop-wrapped executors, handed to graphql-ws through `rootValue`. */
interface Enveloped {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}
