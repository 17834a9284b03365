/**
 * The event filter on the command line, shared by `backlog` and
 * `events tail`: `--project`, `--jobset`, `--job`, `--system`, `--build`,
 * ANDed, with the meaning of GraphQL's `EventFilter` (events/filter.ts
 * checks and applies it).
 */
import type { Command } from 'commander';
import type { EventFilter } from '../events/filter.js';
import { parseBuildId } from './values.js';

/** The options as commander parses them. */
export interface FilterOptions {
  project?: string;
  jobset?: string;
  job?: string;
  system?: string;
  build?: number;
}

/** Adds the filter options to `command`. */
export function withFilterOptions(command: Command, what: string): Command {
  return command
    .option('--project <name>', `only ${what} of this project`)
    .option('--jobset <name>', `only ${what} of jobsets of this name`)
    .option('--job <name>', `only ${what} of this job (e.g. hello.x86_64-linux)`)
    .option('--system <system>', `only ${what} of builds for this system (e.g. x86_64-linux)`)
    .option('--build <id>', `only ${what} of this build (for build_finished: or one of its dependents)`, parseBuildId);
}

/** The filter the options describe. */
export function filterOf(options: FilterOptions): EventFilter {
  return { project: options.project, jobset: options.jobset, job: options.job, system: options.system, buildId: options.build };
}
