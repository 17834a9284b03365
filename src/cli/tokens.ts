/**
 * `hydra-notify-gateway tokens create | list | revoke`: the token workflow
 * of the token service (auth/tokens.ts), for operators.
 *
 * Contract: `create` prints the token alone on stdout (so that
 * `TOKEN=$(hydra-notify-gateway tokens create …)` works) and what it is on
 * stderr; `--json` prints both as one JSON object instead. The token is shown
 * this once. `list` never shows a secret (none is kept).
 */
import type { Command } from 'commander';
import { SCOPES, type Scope } from '../auth/principal.js';
import { type TokenRow, TokenService } from '../auth/tokens.js';
import type { Config } from '../config.js';
import { silentLog } from '../log.js';
import { withDatabase } from './database.js';
import { CliError, EXIT } from './errors.js';

/** What the commands need from the program. */
export interface CliContext {
  config: () => Config;
  out: (text: string) => void;
  err: (text: string) => void;
  /** A status line: rewritten in place at a terminal, else written as a line. @default err */
  status?: (text: string) => void;
  /** Whether stderr is a terminal (a person watches: status lines may come often). @default false */
  terminal?: boolean;
}

/** An expiry: an ISO 8601 instant, or a duration from now (`30d`, `12h`, `90m`). */
function parseExpiry(value: string, now = Date.now()): Date {
  const duration = /^(\d+)([dhm])$/.exec(value);
  if (duration) return new Date(now + Number(duration[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[duration[2] as 'd' | 'h' | 'm']);
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new CliError(
      `--expires takes an ISO 8601 instant (2027-01-31T00:00:00Z) or a duration (30d, 12h, 90m); got ${JSON.stringify(value)}`,
      EXIT.usage,
    );
  }
  return date;
}

function describeToken(row: TokenRow): string {
  const bound = row.consumers ? ` consumers=${row.consumers.join(',')}` : '';
  const state = row.revokedAt ? ` revoked=${row.revokedAt.toISOString()}` : row.expiresAt ? ` expires=${row.expiresAt.toISOString()}` : '';
  const used = row.lastUsedAt ? row.lastUsedAt.toISOString() : 'never';
  return `${row.name} scope=${row.scope}${bound} created=${row.createdAt.toISOString()} last-used=${used}${state}`;
}

/** Registers the `tokens` commands on `program`. */
export function tokenCommands(program: Command, cli: CliContext): void {
  const tokens = program.command('tokens').description('Create, list and revoke bearer tokens (see README, Deploying beside Hydra)');
  const service = (pool: import('pg').Pool) => new TokenService({ pool, log: silentLog });

  tokens
    .command('create')
    .description('Create a token and print it, once: store it now')
    .requiredOption('--name <name>', 'a name for people, unique (e.g. release-sync)')
    .requiredOption('--scope <scope>', `what it may do: ${SCOPES.join(' < ')} (each includes the ones before)`)
    .option('--consumer <name...>', 'ack only: the consumers it may act for (default: all)')
    .option('--expires <when>', 'an ISO 8601 instant, or a duration from now: 30d, 12h, 90m')
    .option('--json', 'print the token and its details as JSON')
    .action(async (options: { name: string; scope: string; consumer?: string[]; expires?: string; json?: boolean }) => {
      if (!SCOPES.includes(options.scope as Scope))
        throw new CliError(`--scope must be one of ${SCOPES.join(', ')}; got ${JSON.stringify(options.scope)}`, EXIT.usage);
      const expiresAt = options.expires ? parseExpiry(options.expires) : null;
      const { token, row } = await withDatabase(cli.config(), (pool) =>
        service(pool).create({ name: options.name, scope: options.scope as Scope, consumers: options.consumer ?? null, expiresAt }),
      );
      if (options.json) cli.out(JSON.stringify({ token, ...row }));
      else {
        cli.out(token);
        cli.err(`created ${describeToken(row)}; it is shown only this once`);
      }
    });

  tokens
    .command('list')
    .description('List every token (never its secret), newest first')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const rows = await withDatabase(cli.config(), (pool) => service(pool).list());
      if (options.json) cli.out(JSON.stringify(rows));
      else for (const row of rows) cli.out(describeToken(row));
    });

  tokens
    .command('revoke')
    .description('Revoke a token by name: it stops working at once; its open connections end within seconds')
    .argument('<name>', "the token's name (or id)")
    .action(async (name: string) => {
      const row = await withDatabase(cli.config(), (pool) => service(pool).revoke(name));
      cli.err(`revoked ${describeToken(row)}`);
    });
}
