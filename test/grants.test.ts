/**
 * The README's grants ("Deploying beside Hydra") are enough, and nothing
 * more is needed: a login role of its own per mode, in a fresh database whose
 * defaults for PUBLIC are revoked (so the role holds exactly the listed
 * privileges), runs the gateway as an operator would. In observer mode
 * (SELECT only) it creates its own schema, delivers a buildFinished with its
 * rows, serves a consumer end to end, refuses the anonymous acknowledgement
 * with OBSERVER_MODE and never writes Hydra's column; retention and
 * reconciliation run as that role too. In owner mode (plus UPDATE of
 * `notificationpendingsince` only) consumers' acknowledgements clear the
 * column once every active one acknowledged, removing a consumer completes
 * the clearing, and the anonymous acknowledgement works. No request and no
 * background task logs a permission error.
 *
 * Roles belong to the server, not to a database: each is dropped after the
 * file, after its database (dropped WITH FORCE first, which takes the
 * gateway's schema the role owns with it). On TEST_DATABASE_URL the admin
 * role needs CREATEROLE besides CREATEDB.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { reconcileOccurrences } from '../src/consumers/queries/reconcile.js';
import { request, requestData, subscribeWs, until, wsClient } from './support/clients.js';
import { ACK, CONSUME, CREATE, caughtUp, doc, finishAndNotify, iso, PENDING, pendingColumn, REMOVE } from './support/consumers.js';
import { admin, createTestDatabase, type TestDatabase } from './support/database.js';
import { recordingGateway } from './support/fixtures.js';
import { onCleanup, type TestGateway } from './support/gateway.js';
import { finishBuilds, insertBuild, insertBuildsOneByOne, insertEval, seedJobset } from './support/hydra.js';

const FINISHED = doc<{
  buildFinished: {
    buildId: number;
    pendingSince: string;
    source: string;
    build: {
      id: number;
      finished: boolean;
      outputs: { name: string }[];
      steps: unknown[];
      jobset: { name: string; project: { name: string } };
    };
  };
}>(
  'subscription { buildFinished { buildId pendingSince source build { id finished outputs { name } steps { stepNr } jobset { name project { name } } } } }',
);
const EVALUATION = doc<{ evaluation: { id: number; jobset: { name: string } } | null }, { id: number }>(
  'query ($id: Int!) { evaluation(id: $id) { id jobset { name } } }',
);

/** The README's grants for every mode, in its words. */
function readmeGrants(database: string, role: string): string[] {
  return [
    `GRANT CONNECT ON DATABASE ${database} TO ${role}`,
    `GRANT USAGE ON SCHEMA public TO ${role}`,
    `GRANT SELECT ON projects, jobsets, jobsetevals, jobsetevalmembers, jobsetevalinputs, builds, buildsteps, buildoutputs TO ${role}`,
    `GRANT CREATE ON DATABASE ${database} TO ${role}`,
  ];
}
/** The one grant owner mode adds. */
const ownerGrant = (role: string) => `GRANT UPDATE (notificationpendingsince) ON builds TO ${role}`;

/** A database of its own and a login role holding exactly `grants` on it; the connection URL as that role. */
async function databaseWithRole(
  grants: (database: string, role: string) => string[],
): Promise<{ db: TestDatabase; url: string; role: string }> {
  const role = `gw_${randomBytes(6).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await admin((c) => c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`));
  // Registered before the database, so it runs after the database was dropped (disposers run in reverse).
  onCleanup(() => admin((c) => c.query(`DROP ROLE IF EXISTS ${role}`)).then(() => {}));
  const db = await createTestDatabase();
  // What every role would get through PUBLIC (CONNECT and TEMP on the database, USAGE on public) is
  // revoked, so the role holds exactly the README's grants.
  await db.pool.query(`REVOKE ALL ON DATABASE ${db.name} FROM PUBLIC`);
  await db.pool.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
  for (const grant of grants(db.name, role)) await db.pool.query(grant);
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  return { db, url: url.toString(), role };
}

/** What the role may do, as Postgres answers it. */
async function privileges(db: TestDatabase, role: string) {
  const { rows } = await db.pool.query(
    `SELECT has_database_privilege($1, current_database(), 'TEMP') AS temp,
            has_schema_privilege($1, 'public', 'CREATE') AS create_in_public,
            has_table_privilege($1, 'builds', 'UPDATE') AS update_builds,
            has_column_privilege($1, 'builds', 'notificationpendingsince', 'UPDATE') AS update_column,
            has_table_privilege($1, 'users', 'SELECT') AS select_users`,
    [role],
  );
  return rows[0];
}

/** Log lines that say the role lacked something, or an error was masked. */
const troubles = (gateway: TestGateway) =>
  gateway.logs.filter((line) => /permission denied| error |Unexpected error/i.test(line) || /^\{"level":"error"/.test(line));

describe("observer mode with the README's grants (SELECT only)", () => {
  it('creates its schema, delivers build_finished, serves a consumer end to end, and never writes the column', async () => {
    const { db, url, role } = await databaseWithRole(readmeGrants);
    expect(await privileges(db, role)).toEqual({
      temp: false,
      create_in_public: false,
      update_builds: false,
      update_column: false,
      select_users: false,
    });
    const jobsetId = await seedJobset(db.pool);
    const evalId = await insertEval(db.pool, jobsetId);

    const gateway = await recordingGateway(url, { instance: 'observer-role', mode: 'observer' });
    const { rows } = await db.pool.query(
      `SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'hydra_notify_gateway'`,
    );
    expect(rows).toEqual([{ owner: role }]);
    expect((await requestData(gateway.url, EVALUATION, { id: evalId })).evaluation).toEqual({ id: evalId, jobset: { name: 'trunk' } });

    await requestData(gateway.url, CREATE, { name: 'watcher' });
    const client = wsClient(gateway.url);
    const live = subscribeWs(client, FINISHED);
    const consumer = subscribeWs(client, CONSUME, { consumer: 'watcher' });
    await until(() => gateway.hub.size >= 2, 10_000, 'subscribed');

    const id = await insertBuild(db.pool, jobsetId);
    const since = await finishAndNotify(db.pool, [id]);
    expect((await live.nextData()).buildFinished).toEqual({
      buildId: id,
      pendingSince: iso(since),
      source: 'LIVE',
      build: { id, finished: true, outputs: [{ name: 'out' }], steps: [], jobset: { name: 'trunk', project: { name: 'nixpkgs' } } },
    });
    expect((await consumer.nextData()).buildFinished).toMatchObject({ buildId: id, pendingSince: iso(since), consumer: 'watcher' });
    expect((await requestData(gateway.url, PENDING, { consumer: 'watcher' })).pendingBuildFinished.edges).toEqual([
      { pendingSince: iso(since), node: { id } },
    ]);
    expect((await requestData(gateway.url, PENDING, {})).pendingBuildFinished.edges).toEqual([{ pendingSince: iso(since), node: { id } }]);

    expect(
      (await requestData(gateway.url, ACK, { buildId: id, pendingSince: iso(since), consumer: 'watcher' })).acknowledgeBuildFinished,
    ).toEqual({ outcome: 'ACKNOWLEDGED', pendingSince: null });
    expect((await requestData(gateway.url, PENDING, { consumer: 'watcher' })).pendingBuildFinished.edges).toEqual([]);
    const refused = await request(gateway.url, ACK, { buildId: id, pendingSince: iso(since) });
    expect(refused.errors?.[0]?.extensions?.code).toBe('OBSERVER_MODE');
    expect(await pendingColumn(db.pool, id)).toBe(since);

    // What the recorder and retention do in the background, as this role.
    await caughtUp(db, gateway);
    await expect(reconcileOccurrences(gateway.pool, 0)).resolves.toBe(0);
    await expect(gateway.retention.prune(new Date(Date.now() + 1_000))).resolves.toBeGreaterThan(0);
    expect(await pendingColumn(db.pool, id)).toBe(since);

    consumer.dispose();
    expect((await requestData(gateway.url, REMOVE, { name: 'watcher' })).removeConsumer).toBe(true);
    expect(troubles(gateway)).toEqual([]);
    await gateway.close();
  });
});

describe("owner mode with the README's grants plus UPDATE (notificationpendingsince)", () => {
  it('clears the column once every consumer acknowledged, on removal, and on an anonymous acknowledgement', async () => {
    const { db, url, role } = await databaseWithRole((database, name) => [...readmeGrants(database, name), ownerGrant(name)]);
    expect(await privileges(db, role)).toEqual({
      temp: false,
      create_in_public: false,
      update_builds: false,
      update_column: true,
      select_users: false,
    });
    const jobsetId = await seedJobset(db.pool);
    const gateway = await recordingGateway(url, { instance: 'owner-role', mode: 'owner' });
    await requestData(gateway.url, CREATE, { name: 'one' });
    await requestData(gateway.url, CREATE, { name: 'two' });

    const [a, b, c] = await insertBuildsOneByOne(db.pool, jobsetId, 3);
    const since = await finishAndNotify(db.pool, [a, b]);
    await caughtUp(db, gateway);
    const ack = async (buildId: number, consumer?: string) =>
      (await requestData(gateway.url, ACK, { buildId, pendingSince: iso(since), consumer })).acknowledgeBuildFinished.outcome;

    // Both consumers must acknowledge before the gateway clears Hydra's column.
    expect(await ack(a, 'one')).toBe('ACKNOWLEDGED');
    expect(await pendingColumn(db.pool, a)).toBe(since);
    expect(await ack(a, 'two')).toBe('ACKNOWLEDGED');
    expect(await pendingColumn(db.pool, a)).toBeNull();

    // Removing the consumer that still held b completes its clearing (locks and clears as this role).
    expect(await ack(b, 'one')).toBe('ACKNOWLEDGED');
    expect(await pendingColumn(db.pool, b)).toBe(since);
    expect((await requestData(gateway.url, REMOVE, { name: 'two' })).removeConsumer).toBe(true);
    expect(await pendingColumn(db.pool, b)).toBeNull();

    // Without a consumer: Hydra's column directly.
    await finishBuilds(db.pool, [c], { stopTime: since });
    expect(await ack(c)).toBe('ACKNOWLEDGED');
    expect(await pendingColumn(db.pool, c)).toBeNull();
    expect(await ack(c)).toBe('ALREADY_ACKNOWLEDGED');

    await requestData(gateway.url, REMOVE, { name: 'one' });
    expect(troubles(gateway)).toEqual([]);
    await gateway.close();
  });
});
