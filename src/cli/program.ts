/**
 * The `hydra-notify-gateway` command: one program (commander), one
 * subcommand per task, `--help` on every one.
 *
 * Contract: `run(argv)` parses the command line and runs the subcommand; it
 * resolves to the exit code (see errors.ts: 0 done, 1 failed, 2 usage) and
 * never throws. Errors a person can act on (a CliError, a configuration
 * error, a refusal from a service with an `extensions.code`) are printed as
 * one line on stderr, without a stack trace. `serve` runs the gateway as
 * `npm start` does and keeps running.
 */
import { Command, CommanderError } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { GatewayError } from '../errors.js';
import { backlogCommand } from './backlog.js';
import { consumerCommands } from './consumers.js';
import { CliError, EXIT } from './errors.js';
import { eventsCommands } from './events.js';
import { withDatabaseOnly } from './migrate.js';
import { notifyCommand } from './notify.js';
import { simulateCommand } from './simulate.js';
import { type CliContext, tokenCommands } from './tokens.js';
import { webhookCommands } from './webhooks.js';

/** Builds the program; `cli` is where it writes. */
export function buildProgram(cli: CliContext): Command {
  const program = new Command('hydra-notify-gateway')
    .description('A GraphQL gateway over the notifications of Hydra, the Nix CI server. Configuration: the environment (see README).')
    .configureOutput({ writeOut: (text) => cli.out(text.trimEnd()), writeErr: (text) => cli.err(text.trimEnd()) })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');

  program
    .command('serve')
    .description('Run the gateway (what npm start runs): the embedded Postgres and simulator unless DATABASE_URL is set')
    .action(async () => {
      await import('../main.js');
      await new Promise<never>(() => {});
    });

  program
    .command('migrate')
    .description("Create or migrate the gateway's own schema (hydra_notify_gateway) and exit; a gateway does this at start too")
    .action(async () => {
      const applied = await withDatabaseOnly(cli.config(), async (client) => migrate(client));
      cli.err(applied.length ? `applied migrations ${applied.join(', ')}` : 'the schema is up to date');
    });

  tokenCommands(program, cli);
  consumerCommands(program, cli);
  backlogCommand(program, cli);
  eventsCommands(program, cli);
  notifyCommand(program, cli);
  simulateCommand(program, cli);
  webhookCommands(program, cli);
  return program;
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function run(argv: readonly string[], io: Omit<CliContext, 'config'>): Promise<number> {
  let config: Config | null = null;
  const cli: CliContext = { ...io, config: () => (config ??= loadConfig()) };
  try {
    await buildProgram(cli).parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof CliError) {
      io.err(`hydra-notify-gateway: ${error.message}`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      io.err(`hydra-notify-gateway: ${error.message}`);
      return EXIT.usage;
    }
    if (error instanceof GatewayError) {
      io.err(`hydra-notify-gateway: ${error.message} (${error.code})`);
      return error.code === 'BAD_USER_INPUT' ? EXIT.usage : EXIT.failed;
    }
    io.err(`hydra-notify-gateway: unexpected failure: ${(error as Error)?.stack ?? String(error)}`);
    return EXIT.failed;
  }
}
