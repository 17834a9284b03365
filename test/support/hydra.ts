/**
 * Rows written the way Hydra writes them, for tests: a project and jobset, an
 * evaluation, queued builds, steps, and finishes that set `finished`,
 * `stoptime` and `notificationpendingsince` in one transaction (the NOTIFY is
 * the caller's, sent afterwards, as Hydra's queue runner does).
 */
import pg from 'pg';
import { onCleanup } from './gateway.js';

let serial = 0;
const now = () => Math.floor(Date.now() / 1000);

/** Inserts a user, project and jobset (if absent); returns the jobset id. */
export async function seedJobset(db: pg.Pool | pg.PoolClient, project = 'nixpkgs', jobset = 'trunk'): Promise<number> {
  await db.query(`INSERT INTO users (username, emailaddress, password) VALUES ('alice', 'alice@example.org', 'x') ON CONFLICT DO NOTHING`);
  await db.query(`INSERT INTO projects (name, displayname, owner) VALUES ($1, $1, 'alice') ON CONFLICT DO NOTHING`, [project]);
  const existing = await db.query('SELECT id FROM jobsets WHERE project = $1 AND name = $2', [project, jobset]);
  if (existing.rows[0]) return Number(existing.rows[0].id);
  const { rows } = await db.query(
    `INSERT INTO jobsets (name, project, emailoverride, nixexprinput, nixexprpath) VALUES ($2, $1, '', 'src', 'release.nix') RETURNING id`,
    [project, jobset],
  );
  return Number(rows[0].id);
}

/** Inserts an evaluation of `jobsetId`; returns its id. */
export async function insertEval(db: pg.Pool | pg.PoolClient, jobsetId: number): Promise<number> {
  const { rows } = await db.query(
    `INSERT INTO jobsetevals (jobset_id, timestamp, checkouttime, evaltime, hasnewbuilds, hash) VALUES ($1, $2, 3, 7, 1, $3) RETURNING id`,
    [jobsetId, now(), `hash${++serial}`],
  );
  return Number(rows[0].id);
}

/** Inserts a queued build; returns its id. */
export async function insertBuild(
  db: pg.Pool | pg.PoolClient,
  jobsetId: number,
  fields: { job?: string; system?: string } = {},
): Promise<number> {
  const job = fields.job ?? `hello${++serial}`;
  const { rows } = await db.query(
    `INSERT INTO builds (finished, timestamp, jobset_id, job, nixname, drvpath, system)
     VALUES (0, $1, $2, $3, $3, $4, $5) RETURNING id`,
    [now(), jobsetId, job, `/nix/store/${String(serial).padStart(32, 'a')}-${job}.drv`, fields.system ?? 'x86_64-linux'],
  );
  const id = Number(rows[0].id);
  await db.query(`INSERT INTO buildoutputs (build, name, path) VALUES ($1, 'out', $2)`, [id, `/nix/store/${id}-${job}`]);
  return id;
}

/** A tuple of `N` ids. */
type Ids<N extends number, T extends number[] = []> = T['length'] extends N ? T : Ids<N, [...T, number]>;

/** Inserts `count` queued builds one after another, each as `insertBuild` does; returns their ids in order. */
export async function insertBuildsOneByOne<N extends number>(db: pg.Pool | pg.PoolClient, jobsetId: number, count: N): Promise<Ids<N>> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) ids.push(await insertBuild(db, jobsetId));
  return ids as Ids<N>;
}

/** Inserts many queued builds in one statement; returns their ids in order. */
export async function insertBuilds(db: pg.Pool | pg.PoolClient, jobsetId: number, count: number): Promise<number[]> {
  const { rows } = await db.query(
    `INSERT INTO builds (finished, timestamp, jobset_id, job, drvpath, system)
     SELECT 0, $1, $2, 'dep' || g, '/nix/store/' || g || '-dep.drv', 'x86_64-linux' FROM generate_series(1, $3::int) g
     RETURNING id`,
    [now(), jobsetId, count],
  );
  return rows.map((r: { id: number }) => Number(r.id)).sort((a, b) => a - b);
}

/** Inserts a busy step of `buildId`. */
export async function insertStep(db: pg.Pool | pg.PoolClient, buildId: number, stepNr: number): Promise<void> {
  await db.query(
    `INSERT INTO buildsteps (build, stepnr, type, drvpath, busy, starttime, machine, system)
     VALUES ($1, $2, 0, '/nix/store/step.drv', 30, $3, 'builder1', 'x86_64-linux')`,
    [buildId, stepNr, now()],
  );
}

/**
 * Finishes builds as the queue runner does: `finished = 1`, `stoptime` and
 * `notificationpendingsince` (= `stopTime`) in one statement. Returns the
 * pending value (Unix seconds).
 */
export async function finishBuilds(
  db: pg.Pool | pg.PoolClient,
  ids: readonly number[],
  options: { status?: number; stopTime?: number } = {},
): Promise<number> {
  const stop = options.stopTime ?? now();
  await db.query(
    `UPDATE builds SET finished = 1, buildstatus = $2, starttime = $3 - 10, stoptime = $3, notificationpendingsince = $3
     WHERE id = ANY($1::int[])`,
    [ids, options.status ?? 0, stop],
  );
  return stop;
}

/** Restarts a build as Hydra's web UI does (finished 1 → 0). */
export async function restartBuild(db: pg.Pool | pg.PoolClient, id: number): Promise<void> {
  await db.query(`UPDATE builds SET finished = 0, buildstatus = NULL, starttime = NULL, stoptime = NULL WHERE id = $1`, [id]);
}

/** A stand-in for hydra-notify's handling of build_finished, running beside a gateway. */
export interface HydraNotifyStandIn {
  /** Builds whose column it cleared. */
  cleared: Set<number>;
  /** What went wrong clearing. */
  errors: string[];
  /** Stops listening (it clears nothing more). */
  stop(): Promise<void>;
}

/**
 * Clears the column the way hydra-notify does: LISTEN build_finished, then a
 * plain (not compare-and-set) UPDATE of the build and every dependent.
 * Disconnected after the test file.
 */
export async function startHydraNotify(connectionString: string): Promise<HydraNotifyStandIn> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  onCleanup(() => client.end());
  const standIn: HydraNotifyStandIn = {
    cleared: new Set(),
    errors: [],
    stop: async () => void (await client.query('UNLISTEN build_finished')),
  };
  client.on('notification', (n) => {
    const ids = (n.payload ?? '').split('\t').map(Number);
    client.query('UPDATE builds SET notificationpendingsince = NULL WHERE id = ANY($1::int[])', [ids]).then(
      () => ids.forEach((id) => standIn.cleared.add(id)),
      (error: Error) => standIn.errors.push(error.message),
    );
  });
  await client.query('LISTEN build_finished');
  return standIn;
}
