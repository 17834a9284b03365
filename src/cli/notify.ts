/**
 * `hydra-notify-gateway notify <channel> [fields...]`: one notification,
 * exactly as Hydra would send it (hydra/send.ts): `notify build_finished 42
 * 43` runs `NOTIFY build_finished, '42<TAB>43'` in a transaction of its own.
 *
 * Contract: the fields are joined with one TAB into the payload. A channel
 * Hydra does not have, or a payload its rule refuses, is a usage error (exit
 * 2) and nothing is sent. The database is any (DATABASE_URL, or the
 * embedded one): it needs no gateway schema, only listeners. What was sent is
 * said on stderr, or printed as `{ channel, payload }` with `--json`.
 */
import type { Command } from 'commander';
import { CHANNELS } from '../hydra/channels.js';
import { checkNotification, notifyStatement, sendNotification } from '../hydra/send.js';
import { withDatabaseOnly } from './migrate.js';
import type { CliContext } from './tokens.js';

/** Registers `notify` on `program`. */
export function notifyCommand(program: Command, cli: CliContext): void {
  program
    .command('notify')
    .description('Send one notification exactly as Hydra would: NOTIFY <channel>, <fields joined by TABs>, inside a transaction')
    .argument('<channel>', `a Hydra channel: ${CHANNELS.join(', ')}`)
    .argument(
      '[fields...]',
      'the payload fields (e.g. build_finished 42 43; step_finished 42 1 /var/log/hydra/42.drv; none for trigger channels)',
    )
    .option('--json', 'print what was sent as JSON: { channel, payload }')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  hydra-notify-gateway notify build_queued 42',
        '  hydra-notify-gateway notify build_finished 42 43 44    # 43 and 44 are dependents',
        '  hydra-notify-gateway notify eval_started 183745.123456789.4242 7',
        '  hydra-notify-gateway notify builds_added ?',
        '  hydra-notify-gateway notify hydra_notify_dump_metrics',
      ].join('\n'),
    )
    .action(async (channel: string, fields: string[], options: { json?: boolean }) => {
      const payload = fields.join('\t');
      // Refused before any connection: a usage error needs no database.
      checkNotification(channel, payload);
      const sent = await withDatabaseOnly(cli.config(), (client) => sendNotification(client, channel, payload));
      if (options.json) cli.out(JSON.stringify({ channel: sent.channel, payload: sent.payload }));
      else cli.err(`sent ${notifyStatement(sent).replaceAll('\t', '<TAB>')}`);
    });
}
