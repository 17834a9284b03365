/**
 * Hydra's rows for the bench, written as test/support/hydra.ts writes them:
 * a user, a project and a jobset, then builds in bulk (one statement per
 * 100,000 rows), some of them finished with `notificationpendingsince` set.
 *
 * Contract: the schema is Hydra's (`installHydraSchema`, the same DDL the
 * gateway's tests use). Build ids run from 1 upwards in insertion order, so a
 * scenario can name builds by id without reading them back. Pending builds
 * get distinct `notificationpendingsince` values far in the past
 * (2020-01-01 onwards, one second apart), so a gateway starting after a gap
 * does not journal them as recovered events, and a caller knows each
 * build's pendingSince from its id alone (`pendingSinceOf`). Each seeding
 * ends with a CHECKPOINT, so the phase that follows does not share the disk
 * with the writing out of the seed (the bench runs with fsync on).
 */
import pg from 'pg';
import { installHydraSchema } from '../../src/hydra/install.js';

/** The project and jobset every seeded build belongs to. */
export const PROJECT = 'nixpkgs';
/** @see PROJECT */
export const JOBSET = 'trunk';

/** Unix seconds of the first pending build's notificationpendingsince. */
const PENDING_EPOCH = 1_577_836_800; // 2020-01-01T00:00:00Z

/** The notificationpendingsince (Unix seconds) the seed gives build `id`. */
export function pendingSinceOf(id: number): number {
  return PENDING_EPOCH + id;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-seed' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Installs Hydra's schema in the (empty) database at `url` and inserts
 * `builds` queued builds of one jobset, ids 1..builds, each with an output.
 */
export async function seedHydra(url: string, builds: number, onProgress: (done: number) => void = () => {}): Promise<void> {
  await withClient(url, async (client) => {
    await installHydraSchema(client);
    await client.query(`INSERT INTO users (username, emailaddress, password) VALUES ('alice', 'alice@example.org', 'x')`);
    await client.query(`INSERT INTO projects (name, displayname, owner) VALUES ($1, $1, 'alice')`, [PROJECT]);
    const { rows } = await client.query<{ id: number }>(
      `INSERT INTO jobsets (name, project, emailoverride, nixexprinput, nixexprpath) VALUES ($2, $1, '', 'src', 'release.nix') RETURNING id`,
      [PROJECT, JOBSET],
    );
    const jobsetId = rows[0]!.id;
    const now = Math.floor(Date.now() / 1000);
    for (let from = 1; from <= builds; from += 100_000) {
      const to = Math.min(builds, from + 99_999);
      await client.query(
        `INSERT INTO builds (id, finished, timestamp, jobset_id, job, nixname, drvpath, system)
         SELECT g, 0, $1, $2, 'hello' || g, 'hello-' || g, '/nix/store/' || lpad(g::text, 32, 'a') || '-hello.drv', 'x86_64-linux'
         FROM generate_series($3::int, $4::int) g`,
        [now, jobsetId, from, to],
      );
      await client.query(
        `INSERT INTO buildoutputs (build, name, path) SELECT g, 'out', '/nix/store/' || g || '-hello' FROM generate_series($1::int, $2::int) g`,
        [from, to],
      );
      onProgress(to);
    }
    await client.query(`SELECT setval(pg_get_serial_sequence('builds', 'id'), $1)`, [builds]);
    await client.query('VACUUM ANALYZE');
    // Written out now, so the first measured phase does not share the disk with a checkpoint of the seed.
    await client.query('CHECKPOINT');
  });
}

/**
 * Finishes builds `from..to` as the queue runner does (finished, stoptime and
 * notificationpendingsince in one statement), pending since `pendingSinceOf`.
 */
export async function makePending(url: string, from: number, to: number): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(
      `UPDATE builds SET finished = 1, buildstatus = 0, starttime = $3 + id - 10, stoptime = $3 + id, notificationpendingsince = $3 + id
       WHERE id BETWEEN $1 AND $2`,
      [from, to, PENDING_EPOCH],
    );
    await client.query('VACUUM ANALYZE builds');
    await client.query('CHECKPOINT');
  });
}
