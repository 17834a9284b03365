/**
 * `hydra-notify-gateway backlog`: the pending build_finished backlog, oldest
 * first: Hydra's (builds whose `notificationpendingsince` is set) or, with
 * `--consumer`, that consumer's own pending set. Read through the consumer
 * service's `pending` (the same pages as GraphQL's `pendingBuildFinished`).
 *
 * Contract: read-only. A table on stdout and a count on stderr, or with
 * `--json` one object on stdout: `{ consumer, items: [{ buildId,
 * pendingSince, project, jobset, job, system, buildStatus, buildStatusCode,
 * stopTime }], hasMore }`, `pendingSince` being what to acknowledge with.
 * At most `--limit` items (100), or every one with `--all`.
 */
import type { Command } from 'commander';
import { createLoaders } from '../hydra/loaders.js';
import { BUILD_STATUS, type Build } from '../hydra/rows.js';
import { withDatabase } from './database.js';
import { filterOf, type FilterOptions, withFilterOptions } from './filter.js';
import { consumerService } from './services.js';
import { age, instant, table, unixInstant } from './table.js';
import type { CliContext } from './tokens.js';
import { parseCount } from './values.js';

/** Rows read per page. */
const PAGE = 500;

const STATUS_NAMES = new Map<number, string>(Object.entries(BUILD_STATUS).map(([name, code]) => [code, name]));

/** Hydra's buildstatus code by its GraphQL name (SUCCEEDED, FAILED, …), or null. */
export function statusName(code: number | null): string | null {
  return code === null ? null : (STATUS_NAMES.get(code) ?? null);
}

/** Registers `backlog` on `program`. */
export function backlogCommand(program: Command, cli: CliContext): void {
  withFilterOptions(
    program
      .command('backlog')
      .description("The pending build_finished backlog, oldest first: Hydra's, or a consumer's own pending set")
      .option('--consumer <name>', "this consumer's pending set instead of Hydra's column")
      .option('--limit <n>', 'at most this many builds', parseCount, 100)
      .option('--all', 'every pending build (no --limit)')
      .option('--json', 'print one JSON object: { consumer, items, hasMore }'),
    'builds',
  ).action(async (options: FilterOptions & { consumer?: string; limit: number; all?: boolean; json?: boolean }) => {
    const limit = options.all ? Infinity : options.limit;
    const consumer = options.consumer ?? null;
    const { items, hasMore, jobsets } = await withDatabase(cli.config(), async (pool) => {
      const service = consumerService(pool, cli.config());
      const items: { build: Build; pendingSince: number }[] = [];
      let hasMore = true;
      while (hasMore && items.length < limit) {
        const last = items.at(-1);
        const page = await service.pending(consumer, {
          after: last ? { since: last.pendingSince, id: last.build.id } : null,
          limit: Math.min(PAGE, limit - items.length),
          filter: filterOf(options),
        });
        items.push(...page.items);
        hasMore = page.hasNextPage;
      }
      const loaders = createLoaders(pool);
      const jobsets = await loaders.jobset.loadMany([...new Set(items.map((i) => i.build.jobsetId))]);
      return { items, hasMore, jobsets: new Map(jobsets.flatMap((j) => (j && !(j instanceof Error) ? [[j.id, j] as const] : []))) };
    });
    const rows = items.map(({ build, pendingSince }) => ({
      buildId: build.id,
      pendingSince: unixInstant(pendingSince),
      project: jobsets.get(build.jobsetId)?.project ?? null,
      jobset: jobsets.get(build.jobsetId)?.name ?? null,
      job: build.job,
      system: build.system,
      buildStatus: statusName(build.buildStatus),
      buildStatusCode: build.buildStatus,
      stopTime: build.stopTime ? instant(build.stopTime) : null,
    }));
    if (options.json) return cli.out(JSON.stringify({ consumer, items: rows, hasMore }));
    const now = Date.now() / 1000;
    cli.out(
      table(
        ['BUILD', 'PENDING SINCE', 'AGE', 'JOBSET', 'JOB', 'SYSTEM', 'STATUS'],
        rows.map((r, i) => [
          String(r.buildId),
          r.pendingSince,
          age(now - items[i]!.pendingSince),
          `${r.project ?? '?'}:${r.jobset ?? '?'}`,
          r.job,
          r.system,
          r.buildStatus ?? String(r.buildStatusCode ?? '-'),
        ]),
      ),
    );
    const whose = consumer === null ? "Hydra's column" : `consumer ${consumer}`;
    cli.err(`${rows.length} pending (${whose})${hasMore ? '; more not shown: raise --limit, or --all' : ''}`);
  });
}
