/**
 * `hydra-notify-gateway webhooks …`: the webhook service (webhooks/service.ts)
 * for operators: list, create (an endpoint, or a commit-status reporter),
 * enable, disable, ping, rotate-secret, remove, deliveries, redeliver and
 * redeliver-since.
 *
 * Contract: each command is one service call on the configured database;
 * the gateways delivering the webhook hear of the change through the
 * database (a hint), whichever instance holds it. `create` and
 * `rotate-secret` print the secret alone on stdout (`SECRET=$(…)` works)
 * and what was done on stderr; `--json` prints one JSON object instead.
 * Input the service refuses exits 2 with its message; an unknown webhook
 * or delivery exits 1.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type pg from 'pg';
import { decodeCursor } from '../journal/cursor.js';
import { compileSubscription } from '../schema/subscriptions.js';
import { type DeliveryRow, type StatusRule, type WebhookSummary, WebhookService } from '../webhooks/service.js';
import { withDatabase } from './database.js';
import { consumerService } from './services.js';
import { parseCount } from './values.js';
import { CliError, EXIT } from './errors.js';
import type { CliContext } from './tokens.js';

function describeWebhook(w: WebhookSummary): string {
  const state =
    w.state === 'disabled'
      ? `disabled (${w.disabledReason ?? 'no reason given'})`
      : w.failingSince
        ? `failing since ${w.failingSince.toISOString()}`
        : 'active';
  const last = w.lastAttempt ? ` last=${w.lastAttempt.status ?? w.lastAttempt.error ?? '?'}@${w.lastAttempt.at.toISOString()}` : '';
  return `${w.name} ${w.kind} ${w.url} ${state} backlog=${w.pending} dead=${w.dead}${last}`;
}

function describeDelivery(d: DeliveryRow): string {
  const last = d.lastStatus ?? d.lastError ?? '';
  return `${d.id} ${d.state} ${d.eventType} attempts=${d.attempts}${last !== '' ? ` last=${last}` : ''} ${d.msgId} ${d.createdAt.toISOString()}`;
}

/** A JSON value of an option, or a usage error naming it. */
function json(option: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`${option} is not JSON: ${(error as Error).message}`, EXIT.usage);
  }
}

/** Registers the `webhooks` commands on `program`. */
export function webhookCommands(program: Command, cli: CliContext): void {
  const webhooks = program
    .command('webhooks')
    .description('Deliver subscriptions to HTTP endpoints, and commit statuses to GitHub or Gitea (see README, Webhooks)');
  const run = <T>(fn: (service: WebhookService) => Promise<T>) =>
    withDatabase(cli.config(), (pool: pg.Pool) =>
      fn(new WebhookService({ pool, compile: compileSubscription, consumers: consumerService(pool, cli.config()) })),
    );

  webhooks
    .command('list')
    .description('List every webhook with its state, backlog and last attempt')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const rows = await run((s) => s.list());
      if (options.json) cli.out(JSON.stringify(rows.map(publicView)));
      else for (const row of rows) cli.out(describeWebhook(row));
    });

  webhooks
    .command('create')
    .description(
      'Create a webhook: each event the subscription selects from now on is POSTed to the URL (a ping first); prints its secret, once',
    )
    .requiredOption('--name <name>', 'a name, unique (e.g. chat-bot)')
    .requiredOption('--url <url>', 'the endpoint (http or https)')
    .requiredOption('--subscription <document>', 'a subscription document of one field, or @file to read it from a file')
    .option('--variables <json>', "the document's variables, a JSON object")
    .option('--ordering <ordering>', 'webhook (one at a time, in order) or build (in order per build, concurrently)', 'webhook')
    .option('--concurrency <n>', 'for --ordering build: builds at once (1 to 64, default 4)', parseCount)
    .option('--secret <whsec>', 'a whsec_… secret to sign with (default: a new one)')
    .option('--json', 'print the secret and the webhook as JSON')
    .action(
      async (options: {
        name: string;
        url: string;
        subscription: string;
        variables?: string;
        ordering: string;
        concurrency?: number;
        secret?: string;
        json?: boolean;
      }) => {
        const document = options.subscription.startsWith('@') ? readFileSync(options.subscription.slice(1), 'utf8') : options.subscription;
        const { webhook, secret } = await run((s) =>
          s.create({
            name: options.name,
            url: options.url,
            document,
            variables: options.variables === undefined ? undefined : json('--variables', options.variables),
            ordering: options.ordering as 'webhook' | 'build',
            concurrency: options.concurrency,
            secret: options.secret ?? null,
          }),
        );
        if (options.json) cli.out(JSON.stringify({ secret, webhook: publicView(webhook) }));
        else {
          cli.out(secret);
          cli.err(`created ${describeWebhook(webhook)}; its secret is shown only this once`);
        }
      },
    );

  webhooks
    .command('create-status')
    .description('Create a commit-status reporter: pending, success, failure and error statuses on the commits of evaluations')
    .requiredOption('--name <name>', 'a name, unique (e.g. github)')
    .requiredOption('--provider <forge>', 'github or gitea')
    .option('--base-url <url>', "the forge's API base URL (default https://api.github.com for github; Gitea: https://HOST/api/v1)")
    .requiredOption(
      '--authorization-env <variable>',
      'the environment variable holding the Authorization value, e.g. "token ghp_…" (kept out of the command line)',
    )
    .requiredOption('--hydra-url <url>', "Hydra's base URL, for the statuses' links")
    .option('--jobs <regex>', 'one rule: the jobs (project:jobset:job) that report', '.*')
    .option('--input <name...>', 'one rule: the evaluation inputs whose commits get statuses (flakes need none)')
    .option('--context <template>', 'one rule: the context ({project}, {jobset}, {job}, {build})')
    .option('--short-context', 'one rule: ci/hydra:… with -pr-N removed from the job')
    .option(
      '--rules <json>',
      'several rules instead: a JSON array of {jobs, inputs, context, description, targetUrl, useShortContext, excludeBuildFromContext}',
    )
    .action(
      async (options: {
        name: string;
        provider: string;
        baseUrl?: string;
        authorizationEnv: string;
        hydraUrl: string;
        jobs: string;
        input?: string[];
        context?: string;
        shortContext?: boolean;
        rules?: string;
      }) => {
        if (options.provider !== 'github' && options.provider !== 'gitea')
          throw new CliError(`--provider is github or gitea; got ${JSON.stringify(options.provider)}`, EXIT.usage);
        const authorization = process.env[options.authorizationEnv];
        if (!authorization)
          throw new CliError(`${options.authorizationEnv} is not set: put the Authorization value (e.g. "token ghp_…") in it`, EXIT.usage);
        const rules: StatusRule[] = options.rules
          ? (json('--rules', options.rules) as StatusRule[])
          : [
              {
                jobs: options.jobs,
                ...(options.input && { inputs: options.input }),
                ...(options.context && { context: options.context }),
                ...(options.shortContext && { useShortContext: true }),
              },
            ];
        if (!Array.isArray(rules)) throw new CliError('--rules is a JSON array of rules', EXIT.usage);
        const webhook = await run((s) =>
          s.createStatusReporter({
            name: options.name,
            provider: options.provider as 'github' | 'gitea',
            baseUrl: options.baseUrl ?? null,
            authorization,
            hydraUrl: options.hydraUrl,
            rules,
          }),
        );
        cli.err(`created ${describeWebhook(webhook)}`);
      },
    );

  webhooks
    .command('enable')
    .description('Enable a webhook (also one disabled for failing): it resumes where it stopped')
    .argument('<name>')
    .action(async (name: string) => cli.err(`enabled ${describeWebhook(await run((s) => s.enable(name)))}`));

  webhooks
    .command('disable')
    .description('Disable a webhook; enable resumes it from where it stopped')
    .argument('<name>')
    .option('--reason <text>', 'shown with it')
    .action(async (name: string, options: { reason?: string }) =>
      cli.err(`disabled ${describeWebhook(await run((s) => s.disable(name, options.reason ?? null)))}`),
    );

  webhooks
    .command('remove')
    .description('Remove a webhook with its deliveries and their log')
    .argument('<name>')
    .action(async (name: string) => {
      await run((s) => s.remove(name));
      cli.err(`removed ${name}`);
    });

  webhooks
    .command('ping')
    .description('Queue a ping delivery (after what is pending)')
    .argument('<name>')
    .action(async (name: string) => cli.out(describeDelivery(await run((s) => s.ping(name)))));

  webhooks
    .command('rotate-secret')
    .description('Add a new secret and print it, once; deliveries are signed with it and the previous one until the next rotation')
    .argument('<name>')
    .option('--secret <whsec>', 'the new whsec_… secret (default: a new one)')
    .action(async (name: string, options: { secret?: string }) => {
      const { secret } = await run((s) => s.rotateSecret(name, options.secret ?? null));
      cli.out(secret);
      cli.err(`${name} now signs with the new secret and the previous one`);
    });

  webhooks
    .command('deliveries')
    .description("Show a webhook's deliveries, newest first, with each attempt's status and error")
    .argument('<name>')
    .option('--state <state>', 'pending, delivered or dead')
    .option('--first <n>', 'how many (at most 500)', parseCount, 20)
    .option('--json', 'print JSON, the delivery log included')
    .action(async (name: string, options: { state?: string; first: number; json?: boolean }) => {
      if (options.state && !['pending', 'delivered', 'dead'].includes(options.state))
        throw new CliError('--state is pending, delivered or dead', EXIT.usage);
      const limit = options.first;
      if (limit > 500) throw new CliError('--first is 1 to 500', EXIT.usage);
      const { deliveries, attempts } = await run(async (s) => {
        const page = await s.deliveries(name, { limit, before: null, state: (options.state as DeliveryRow['state']) ?? null });
        return { deliveries: page.deliveries, attempts: await s.attempts(page.deliveries.map((d) => d.id)) };
      });
      if (options.json) cli.out(JSON.stringify(deliveries.map((d) => ({ ...d, log: attempts.filter((a) => a.deliveryId === d.id) }))));
      else
        for (const d of deliveries) {
          cli.out(describeDelivery(d));
          for (const a of attempts.filter((x) => x.deliveryId === d.id)) {
            cli.out(
              `  #${a.attempt} ${a.startedAt.toISOString()} ${a.status ?? '-'} ${a.latencyMs}ms ${a.instance}${a.error ? ` ${a.error}` : ''}`,
            );
          }
        }
    });

  webhooks
    .command('redeliver')
    .description('Make a delivery (dead, or delivered) pending again, due now, with the same webhook-id')
    .argument('<delivery-id>')
    .action(async (id: string) => cli.out(describeDelivery(await run((s) => s.redeliver(id)))));

  webhooks
    .command('redeliver-since')
    .description('Deliver again every event after a journal cursor, with new webhook-ids')
    .argument('<name>')
    .argument('<cursor>', 'an event cursor (the hng-cursor header of a delivery)')
    .action(async (name: string, cursor: string) =>
      cli.err(`rewound ${describeWebhook(await run((s) => s.redeliverSince(name, decodeCursor(cursor))))}`),
    );
}

/** A webhook without its secrets or a reporter's authorization. */
function publicView(w: WebhookSummary): Record<string, unknown> {
  const { secrets, options, leaseUntil: _lease, ...rest } = w;
  const { authorization: _authorization, ...shown } = options;
  return { ...rest, secrets: secrets.length, options: shown };
}
