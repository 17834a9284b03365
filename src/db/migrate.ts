/**
 * The gateway's own schema, `hydra_notify_gateway`: numbered SQL migrations
 * applied at start-up.
 *
 * Contract: migrations run in order, each once, inside one transaction
 * holding an advisory lock, so several gateway instances starting together
 * apply them once. Applied versions are kept in
 * `hydra_notify_gateway.migrations`. Nothing here touches Hydra's tables.
 */
import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';
import type { Queryable } from './queryable.js';
import { transaction } from './transaction.js';

/** Advisory lock key serialising migrations ("hngmigr" in ASCII). */
const MIGRATE_LOCK = '29388411153606514';

const folder = new URL('./migrations/', import.meta.url);

async function migrationFiles(): Promise<string[]> {
  return (await readdir(folder)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
}

/** The versions not applied yet (all of them on a database no gateway started on). */
export async function pendingMigrations(db: Queryable): Promise<number[]> {
  const { rows } = await db.query("/* migrationsTable */ SELECT to_regclass('hydra_notify_gateway.migrations') IS NOT NULL AS present");
  const applied = new Set<number>();
  if (rows[0]?.present) {
    for (const r of (await db.query('/* appliedMigrations */ SELECT version FROM hydra_notify_gateway.migrations')).rows)
      applied.add(Number(r.version));
  }
  return (await migrationFiles()).map((f) => Number(f.slice(0, 3))).filter((v) => !applied.has(v));
}

/** Applies pending migrations; returns the versions applied now. */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  const files = await migrationFiles();
  return transaction(client, async (tx) => {
    await tx.query('/* migrateLock */ SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATE_LOCK]);
    await tx.query(`/* migrateTable */ CREATE SCHEMA IF NOT EXISTS hydra_notify_gateway;
      CREATE TABLE IF NOT EXISTS hydra_notify_gateway.migrations (version integer primary key, applied_at timestamptz not null default now())`);
    const { rows } = await tx.query<{ version: number }>('/* appliedMigrations */ SELECT version FROM hydra_notify_gateway.migrations');
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const file of files) {
      const version = Number(file.slice(0, 3));
      if (applied.has(version)) continue;
      await tx.query(await readFile(new URL(file, folder), 'utf8'));
      await tx.query('/* recordMigration */ INSERT INTO hydra_notify_gateway.migrations (version) VALUES ($1)', [version]);
      done.push(version);
    }
    return done;
  });
}
