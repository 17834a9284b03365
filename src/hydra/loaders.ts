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
  readonly build: DataLoader<number, Build | null>;
  readonly jobset: DataLoader<number, Jobset | null>;
  readonly jobsetByName: DataLoader<{ project: string; name: string }, Jobset | null, string>;
  readonly project: DataLoader<string, Project | null>;
  readonly evaluation: DataLoader<number, Evaluation | null>;
  readonly step: DataLoader<{ buildId: number; stepNr: number }, BuildStep | null, string>;
  readonly stepsOfBuild: DataLoader<number, BuildStep[]>;
  readonly outputsOfBuild: DataLoader<number, BuildOutput[]>;
}

/** A row together with the loader set that loaded it. */
export type Loaded<T> = T & { readonly loaders: Loaders };

/** Attaches `loaders` to `row` (null stays null). */
export function loaded<T extends object>(loaders: Loaders, row: T | null): Loaded<T> | null {
  return row === null ? null : { ...row, loaders };
}

/**
 * Attaches `loaders` to `row` itself, without the copy `loaded` makes: for a
 * row that only this scope holds (just read by a statement of this request),
 * where copying a page of wide rows costs more than the rest of their mapping.
 */
export function attachLoaders<T extends object>(loaders: Loaders, row: T): Loaded<T> {
  return Object.assign(row, { loaders });
}

/** Attaches `loaders` to every row. */
export function loadedAll<T extends object>(loaders: Loaders, rows: readonly T[]): Loaded<T>[] {
  return rows.map((r) => loaded(loaders, r)!);
}

/**
 * A fresh loader set over `db`. Batches are capped at 1,000 keys per
 * statement. Each loader is made on its first use: a context is copied by the
 * GraphQL pipeline (which reads its `loaders`), so a subscriber's context holds
 * a set although its events bring sets of their own; an unused set is a few
 * empty slots, not eight DataLoaders with their caches (about 3 KB a
 * subscriber).
 */
export function createLoaders(db: Queryable): Loaders {
  return new LoaderSet(db);
}

const BATCH = { maxBatchSize: 1_000 };

class LoaderSet implements Loaders {
  #build?: Loaders['build'];
  #jobset?: Loaders['jobset'];
  #jobsetByName?: Loaders['jobsetByName'];
  #project?: Loaders['project'];
  #evaluation?: Loaders['evaluation'];
  #step?: Loaders['step'];
  #stepsOfBuild?: Loaders['stepsOfBuild'];
  #outputsOfBuild?: Loaders['outputsOfBuild'];

  constructor(private readonly db: Queryable) {}

  get build(): Loaders['build'] {
    return (this.#build ??= new DataLoader(async (ids) => {
      const found = await buildsWithJobsets(this.db, ids);
      for (const f of found) {
        if (f?.jobset) this.jobset.prime(f.jobset.id, f.jobset);
        if (f?.project) this.project.prime(f.project.name, f.project);
      }
      return found.map((f) => f?.build ?? null);
    }, BATCH));
  }

  get jobset(): Loaders['jobset'] {
    return (this.#jobset ??= new DataLoader((ids) => jobsetsById(this.db, ids), BATCH));
  }

  get jobsetByName(): Loaders['jobsetByName'] {
    return (this.#jobsetByName ??= new DataLoader((keys) => jobsetsByName(this.db, keys), {
      ...BATCH,
      cacheKeyFn: (k) => `${k.project}\0${k.name}`,
    }));
  }

  get project(): Loaders['project'] {
    return (this.#project ??= new DataLoader((names) => projectsByName(this.db, names), BATCH));
  }

  get evaluation(): Loaders['evaluation'] {
    return (this.#evaluation ??= new DataLoader((ids) => evaluationsById(this.db, ids), BATCH));
  }

  get step(): Loaders['step'] {
    return (this.#step ??= new DataLoader((keys) => stepsByKey(this.db, keys), {
      ...BATCH,
      cacheKeyFn: (k) => `${k.buildId}/${k.stepNr}`,
    }));
  }

  get stepsOfBuild(): Loaders['stepsOfBuild'] {
    return (this.#stepsOfBuild ??= new DataLoader((ids) => stepsOfBuilds(this.db, ids), BATCH));
  }

  get outputsOfBuild(): Loaders['outputsOfBuild'] {
    return (this.#outputsOfBuild ??= new DataLoader((ids) => outputsOfBuilds(this.db, ids), BATCH));
  }
}
