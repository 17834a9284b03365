/**
 * Installing and checking the Hydra-compatible tables.
 *
 * Contract: `installHydraSchema` is for the embedded database and tests only.
 * It creates the tables of `schema.sql` in the connected database's `public`
 * schema when `public.builds` is absent, inside one transaction holding an
 * advisory lock, so concurrent callers (parallel test files on one cluster)
 * install it once and a failure leaves nothing behind. It never alters an
 * existing table: the gateway must not change a real Hydra's tables (an embedded
 * database made before `jobsetevalinputs` joined this subset gets that table).
 * `missingHydraTables` only reads the catalog; the caller turns a non-empty
 * answer into a startup error. Neither function owns the client: it is
 * borrowed, left outside any transaction, and not released.
 */
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { transaction } from '../db/transaction.js';

/** The Hydra tables the gateway reads; all must be visible on the search path. */
export const HYDRA_TABLES = ['builds', 'buildsteps', 'buildoutputs', 'jobsets', 'projects', 'jobsetevals', 'jobsetevalmembers'] as const;

/** The statement of `jobsetevalinputs` in schema.sql. */
const JOBSET_EVAL_INPUTS = /create table jobsetevalinputs \([^;]*\);/;

/** Advisory lock key serialising concurrent installs ("hydrasch" in ASCII). */
const INSTALL_LOCK = '7526746417683162984';

/**
 * Creates Hydra's tables, indexes and triggers in `public` unless `public.builds`
 * already exists. Idempotent and safe to call concurrently.
 * @returns whether it created the schema.
 */
export async function installHydraSchema(client: pg.ClientBase): Promise<boolean> {
  const ddl = await readFile(new URL('./schema.sql', import.meta.url), 'utf8');
  return transaction(client, async (tx) => {
    await tx.query('/* installHydraSchemaLock */ select pg_advisory_xact_lock($1::bigint)', [INSTALL_LOCK]);
    const { rows } = await tx.query<{ present: boolean }>(
      "/* installHydraSchemaProbe */ select to_regclass('public.builds') is not null as present",
    );
    if (rows[0]?.present) {
      // An embedded database made before jobsetevalinputs was part of this subset gets it now.
      await tx.query(
        `/* installJobsetEvalInputs */ ${JOBSET_EVAL_INPUTS.exec(ddl)![0]}`.replace(
          'create table jobsetevalinputs',
          'create table if not exists jobsetevalinputs',
        ),
      );
      return false;
    }
    await tx.query('/* installHydraSchemaSearchPath */ set local search_path to public');
    await tx.query(ddl);
    return true;
  });
}

/**
 * Lists the tables of `HYDRA_TABLES` that are not visible on the connection's
 * search path, in `HYDRA_TABLES` order.
 * @returns an empty array when the database looks like Hydra's.
 */
export async function missingHydraTables(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `/* missingHydraTables */
     select t.name
       from unnest($1::text[]) with ordinality as t(name, position)
      where to_regclass(t.name) is null
      order by t.position`,
    [HYDRA_TABLES],
  );
  return rows.map((row) => row.name);
}
