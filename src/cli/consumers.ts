/**
 * `hydra-notify-gateway consumers list | create | pause | resume | remove |
 * redeliver`: the consumer service (consumers/service.ts) for operators,
 * with the rules of the GraphQL mutations of the same names.
 *
 * Contract: each command is one service call on the configured database.
 * What it did is said on stderr; `--json` prints the result on stdout
 * instead (the shapes are in the README, CLI section). An unknown consumer
 * or build fails with 1 (NOT_FOUND), a name no consumer may have with 2
 * (BAD_USER_INPUT). Running gateways see pauses, resumptions, removals and
 * redeliveries at once (the service hints them on `hng_consumer`).
 */
import type { Command } from 'commander';
import type { ConsumerRow } from '../consumers/service.js';
import { withDatabase } from './database.js';
import { consumerService } from './services.js';
import { instant, table, unixInstant } from './table.js';
import type { CliContext } from './tokens.js';
import { parseBuildId } from './values.js';

/** A consumer as `--json` prints it. */
function consumerJson(row: ConsumerRow) {
  return {
    name: row.name,
    paused: row.paused,
    pending: row.pending,
    oldestPendingSince: row.oldestPendingSince === null ? null : unixInstant(row.oldestPendingSince),
    createdAt: instant(row.createdAt),
  };
}

function describe(row: ConsumerRow): string {
  const oldest = row.oldestPendingSince === null ? '' : `, oldest ${unixInstant(row.oldestPendingSince)}`;
  return `${row.name} (${row.paused ? 'paused' : 'active'}, ${row.pending} pending${oldest})`;
}

/** Registers the `consumers` commands on `program`. */
export function consumerCommands(program: Command, cli: CliContext): void {
  const consumers = program
    .command('consumers')
    .description('Named, durable readers of build_finished, each with its own pending set (see README, Delivery guarantees)');
  const run = <T>(fn: (service: ReturnType<typeof consumerService>) => Promise<T>) =>
    withDatabase(cli.config(), (pool) => fn(consumerService(pool, cli.config())));
  /** Prints `row` as JSON, or says `what` happened to it. */
  const report = (row: ConsumerRow, json: boolean | undefined, what: string) =>
    json ? cli.out(JSON.stringify(consumerJson(row))) : cli.err(`${what} ${describe(row)}`);

  consumers
    .command('list')
    .description('List every consumer: state, pending occurrences, the oldest pending finish')
    .option('--json', 'print a JSON array')
    .action(async (options: { json?: boolean }) => {
      const rows = await run((service) => service.list());
      if (options.json) return cli.out(JSON.stringify(rows.map(consumerJson)));
      cli.out(
        table(
          ['NAME', 'STATE', 'PENDING', 'OLDEST PENDING', 'CREATED'],
          rows.map((r) => [
            r.name,
            r.paused ? 'paused' : 'active',
            String(r.pending),
            r.oldestPendingSince === null ? '-' : unixInstant(r.oldestPendingSince),
            instant(r.createdAt),
          ]),
        ),
      );
    });

  consumers
    .command('create')
    .description('Create a consumer: from now on every finished build is pending for it until it acknowledges it')
    .argument('<name>', 'lower-case letters, digits, . _ - (e.g. release-sync)')
    .option('--json', 'print the consumer as JSON')
    .action(async (name: string, options: { json?: boolean }) => report(await run((s) => s.create(name)), options.json, 'created'));

  consumers
    .command('pause')
    .description("Stop deliveries; occurrences keep accumulating (in owner mode it no longer holds back clearing Hydra's column)")
    .argument('<name>', "the consumer's name")
    .option('--json', 'print the consumer as JSON')
    .action(async (name: string, options: { json?: boolean }) => report(await run((s) => s.pause(name)), options.json, 'paused'));

  consumers
    .command('resume')
    .description('Resume deliveries, starting with what accumulated')
    .argument('<name>', "the consumer's name")
    .option('--json', 'print the consumer as JSON')
    .action(async (name: string, options: { json?: boolean }) => report(await run((s) => s.resume(name)), options.json, 'resumed'));

  consumers
    .command('remove')
    .description('Remove a consumer and its pending set; its subscriptions receive nothing more')
    .argument('<name>', "the consumer's name")
    .option('--json', 'print {"removed": name} as JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      await run((s) => s.remove(name));
      if (options.json) cli.out(JSON.stringify({ removed: name }));
      else cli.err(`removed ${name}`);
    });

  consumers
    .command('redeliver')
    .description("Deliver a build's latest finish to the consumer again (pending, to its next subscriber at once), even if acknowledged")
    .argument('<name>', "the consumer's name")
    .argument('<build>', 'the build id', parseBuildId)
    .option('--json', 'print {"consumer", "buildId", "pendingSince"} as JSON')
    .action(async (name: string, buildId: number, options: { json?: boolean }) => {
      const occurrence = await run((s) => s.redeliver(name, buildId));
      const pendingSince = unixInstant(occurrence.pendingSince);
      if (options.json) cli.out(JSON.stringify({ consumer: name, buildId: occurrence.buildId, pendingSince }));
      else cli.err(`build ${occurrence.buildId} (finished ${pendingSince}) is pending again for ${name}`);
    });
}
