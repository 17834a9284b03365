/**
 * DataLoaders over Hydra's rows, one set per scope.
 *
 * Contract: a `Loaders` set batches every load made in one tick into one
 * statement per table and caches rows for its own life only. The gateway makes
 * one set per HTTP request and one per event (shared by every subscriber that
 * receives that event), never one per connection: a subscription lives for
 * hours and a connection-wide cache would serve stale rows. Objects handed to
 * GraphQL carry the set that loaded them (`Loaded<T>`), so nested fields
 * resolve within the same scope and the same batches. A build's load brings
 * its jobset and that jobset's project in the same statement, primed into the
 * set's `jobset` and `project` loaders: an event about a build costs one
 * statement, not three in a row.
 */
import DataLoader from 'dataloader';
import type { Queryable } from '../db/queryable.js';
import {
  buildsWithJobsets,
  evaluationsById,
  jobsetsById,
  jobsetsByName,
  outputsOfBuilds,
  projectsByName,
  stepsByKey,
  stepsOfBuilds,
} from './queries/rowsById.js';
import type { Build, BuildOutput, BuildStep, Evaluation, Jobset, Project } from './rows.js';

/** The loaders of one scope (a request or an event). */
export interface Loaders {
  build: DataLoader<number, Build | null>;
  jobset: DataLoader<number, Jobset | null>;
  jobsetByName: DataLoader<{ project: string; name: string }, Jobset | null, string>;
  project: DataLoader<string, Project | null>;
  evaluation: DataLoader<number, Evaluation | null>;
  step: DataLoader<{ buildId: number; stepNr: number }, BuildStep | null, string>;
  stepsOfBuild: DataLoader<number, BuildStep[]>;
  outputsOfBuild: DataLoader<number, BuildOutput[]>;
}

/** A row together with the loader set that loaded it. */
export type Loaded<T> = T & { readonly loaders: Loaders };

/** Attaches `loaders` to `row` (null stays null). */
export function loaded<T extends object>(loaders: Loaders, row: T | null): Loaded<T> | null {
  return row === null ? null : { ...row, loaders };
}

/** Attaches `loaders` to every row. */
export function loadedAll<T extends object>(loaders: Loaders, rows: readonly T[]): Loaded<T>[] {
  return rows.map((r) => loaded(loaders, r)!);
}

/** A fresh loader set over `db`. Batches are capped at 1,000 keys per statement. */
export function createLoaders(db: Queryable): Loaders {
  const options = { maxBatchSize: 1_000 };
  const loaders: Loaders = {
    build: new DataLoader(async (ids) => {
      const found = await buildsWithJobsets(db, ids);
      for (const f of found) {
        if (f?.jobset) loaders.jobset.prime(f.jobset.id, f.jobset);
        if (f?.project) loaders.project.prime(f.project.name, f.project);
      }
      return found.map((f) => f?.build ?? null);
    }, options),
    jobset: new DataLoader((ids) => jobsetsById(db, ids), options),
    jobsetByName: new DataLoader((keys) => jobsetsByName(db, keys), { ...options, cacheKeyFn: (k) => `${k.project}\0${k.name}` }),
    project: new DataLoader((names) => projectsByName(db, names), options),
    evaluation: new DataLoader((ids) => evaluationsById(db, ids), options),
    step: new DataLoader((keys) => stepsByKey(db, keys), { ...options, cacheKeyFn: (k) => `${k.buildId}/${k.stepNr}` }),
    stepsOfBuild: new DataLoader((ids) => stepsOfBuilds(db, ids), options),
    outputsOfBuild: new DataLoader((ids) => outputsOfBuilds(db, ids), options),
  };
  return loaders;
}
