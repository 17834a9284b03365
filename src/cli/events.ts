/**
 * `hydra-notify-gateway events tail`: the journal in a terminal, followed
 * live, filtered, resumable.
 *
 * Contract: events come from the gateway's own history reader (events/tail.ts
 * over events/history.ts) on the configured database, woken by a LISTEN on
 * `hng_journal` (the recorder's hint) and polled every second as a backstop;
 * it needs a gateway recording somewhere on that database, not on this host
 * (why not a graphql-ws client: docs/decisions.md, section 9). Without
 * `--after` it starts at the journal's end; with `--after <cursor>` (any
 * event's cursor, from here or from a subscription) it prints what came
 * after that event first. Each event is one line on stdout ending with its
 * cursor, or with `--json` one JSON object per line (the README, CLI
 * section, gives the fields). Gaps are always shown. It ends after
 * `--count` events or on SIGINT/SIGTERM, exit 0; a cursor retention pruned is
 * CURSOR_EXPIRED (exit 1), a malformed one BAD_USER_INPUT (exit 2).
 */
import type { Command } from 'commander';
import pg from 'pg';
import { JOURNAL_CHANNEL } from '../db/channels.js';
import type { Queryable } from '../db/queryable.js';
import { type GapNotice, type GatewayEvent, isGap } from '../events/event.js';
import { tail } from '../events/tail.js';
import { CHANNELS, type Channel, isChannel } from '../hydra/channels.js';
import type { Notice } from '../hydra/payloads.js';
import { decodeCursor, encodeCursor } from '../journal/cursor.js';
import { statusName } from './backlog.js';
import { databaseOf, withDatabase } from './database.js';
import { CliError, EXIT } from './errors.js';
import { filterOf, type FilterOptions, withFilterOptions } from './filter.js';
import { instant, unixInstant } from './table.js';
import type { CliContext } from './tokens.js';
import { parseCount } from './values.js';

interface TailOptions extends FilterOptions {
  after?: string;
  channel?: string[];
  count?: number;
  json?: boolean;
}

/** Hints that new rows may be there: a hint that comes while nobody waits is kept for the next wait (the tail waits one at a time). */
class Hints {
  private waiter: ((woken: boolean) => void) | null = null;
  private pending = false;

  wake(): void {
    if (this.waiter) this.waiter(true);
    else this.pending = true;
  }

  wait(ms: number): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), ms);
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.waiter = null;
        resolve(woken);
      };
      this.waiter = done;
    });
  }
}

/** The rows an event names, for its line: its build (and that build's jobset), or its jobset. */
async function rowsOf(event: GatewayEvent) {
  const notice = event.notice as Notice;
  const buildId = 'buildId' in notice ? notice.buildId : notice.channel === 'builds_added' ? notice.lowestNewBuildId : null;
  const build = buildId === null ? null : await event.loaders.build.load(buildId);
  const jobsetId = build?.jobsetId ?? ('jobsetId' in notice ? notice.jobsetId : null);
  const jobset = jobsetId === null ? null : await event.loaders.jobset.load(jobsetId);
  return { build, jobset };
}

/** An event as `--json` prints it: its journal fields, the fields of its payload, and the rows it names. */
async function eventJson(event: GatewayEvent): Promise<Record<string, unknown>> {
  const base = {
    cursor: encodeCursor(event.position),
    channel: event.channel,
    receivedAt: instant(event.receivedAt),
    source: event.source,
    payload: event.payload,
  };
  if (isGap(event)) return { ...base, from: instant(event.notice.from), to: instant(event.notice.to) };
  const { channel: _channel, ...fields } = event.notice as Notice;
  const { build, jobset } = await rowsOf(event);
  return {
    ...base,
    ...fields,
    ...(event.channel === 'build_finished'
      ? { pendingSince: event.pendingSince === undefined ? null : unixInstant(event.pendingSince) }
      : {}),
    build: build && {
      id: build.id,
      job: build.job,
      system: build.system,
      finished: build.finished,
      buildStatus: statusName(build.buildStatus),
    },
    jobset: jobset && { project: jobset.project, name: jobset.name },
  };
}

/** An event as one line for people: instant, channel, what it says, its cursor last. */
async function eventLine(event: GatewayEvent): Promise<string> {
  const cursor = encodeCursor(event.position);
  if (isGap(event)) {
    const gap = event.notice as GapNotice;
    return `${instant(event.receivedAt)}  ${'gap'.padEnd(25)}  no gateway listened from ${instant(gap.from)} to ${instant(gap.to)}: Hydra's notifications of that window are lost  ${cursor}`;
  }
  const notice = event.notice as Notice;
  const { build, jobset } = await rowsOf(event);
  const where = jobset ? `${jobset.project}:${jobset.name}` : '';
  const parts: string[] = [];
  switch (notice.channel) {
    case 'eval_started':
    case 'eval_failed':
      parts.push(`jobset ${where || notice.jobsetId}`, `trace ${notice.traceId}`);
      break;
    case 'eval_added':
    case 'eval_cached':
      parts.push(`jobset ${where || notice.jobsetId}`, `evaluation ${notice.evaluationId}`, `trace ${notice.traceId}`);
      break;
    case 'cached_build_queued':
    case 'cached_build_finished':
      parts.push(`evaluation ${notice.evaluationId}`, `build ${notice.buildId}`, where, build?.job ?? '');
      break;
    case 'builds_added':
      parts.push(notice.lowestNewBuildId === null ? 'new builds (?)' : `new builds from ${notice.lowestNewBuildId}`);
      break;
    default:
      if ('buildId' in notice) {
        parts.push(`build ${notice.buildId}`, where, build?.job ?? '');
        if ('stepNr' in notice) parts.push(`step ${notice.stepNr}`);
        if (notice.channel === 'step_finished' && notice.logPath) parts.push(notice.logPath);
        if (notice.channel === 'build_finished') {
          parts.push(statusName(build?.buildStatus ?? null) ?? '');
          if (notice.dependentIds.length)
            parts.push(`+${notice.dependentIds.length} dependent${notice.dependentIds.length > 1 ? 's' : ''}`);
        }
      }
  }
  if (event.source === 'RECOVERED') parts.push('(recovered after a gap)');
  const summary = parts.filter(Boolean).join(' ');
  return `${instant(event.receivedAt)}  ${event.channel.padEnd(25)}  ${summary}  ${cursor}`;
}

/** Listens on `hng_journal` with a connection of its own; returns how to stop. */
async function listenForHints(url: string, hints: Hints, cli: CliContext): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url, application_name: 'hydra-notify-gateway:events-tail' });
  client.on('error', (error) => cli.err(`hydra-notify-gateway: the LISTEN connection failed (${error.message}); polling every second`));
  client.on('notification', () => hints.wake());
  await client.connect();
  await client.query(`/* tailListen */ LISTEN ${JOURNAL_CHANNEL}`);
  return () => client.end().catch(() => {});
}

/** Registers `events tail` on `program`. */
export function eventsCommands(program: Command, cli: CliContext): void {
  const events = program.command('events').description("The gateway's journal of Hydra's notifications");
  withFilterOptions(
    events
      .command('tail')
      .description('Follow the journal live: one line per event (or --json), filtered, resumable with --after')
      .option('--after <cursor>', "start after this event's cursor (printed at the end of each line): what came since, then live")
      .option('--channel <name...>', `only these channels (gaps always): ${CHANNELS.join(', ')}`)
      .option('--count <n>', 'stop after this many events', parseCount)
      .option('--json', 'one JSON object per event and line (NDJSON)'),
    'events',
  ).action(async (options: TailOptions) => {
    const unknown = (options.channel ?? []).filter((c) => !isChannel(c));
    if (unknown.length) throw new CliError(`--channel: not a Hydra channel: ${unknown.join(', ')}`, EXIT.usage);
    const after = options.after === undefined ? null : decodeCursor(options.after);
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      await withDatabase(cli.config(), async (pool) => {
        const hints = new Hints();
        abort.signal.addEventListener('abort', () => hints.wake());
        const unlisten = await listenForHints(databaseOf(cli.config()).url, hints, cli);
        try {
          await follow(pool, cli, options, after, hints, abort);
        } finally {
          await unlisten();
        }
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}

async function follow(db: Queryable, cli: CliContext, options: TailOptions, after: number | null, hints: Hints, abort: AbortController) {
  let printed = 0;
  const stream = tail(db, {
    after,
    channels: options.channel ? (options.channel as Channel[]) : null,
    filter: filterOf(options),
    wait: (ms) => hints.wait(ms),
    signal: abort.signal,
    onStart: (position) =>
      cli.err(
        `following the journal after ${encodeCursor(position)}${after === null ? ' (its end)' : ''}; ${options.count ? `stopping after ${options.count} events` : 'Ctrl-C stops'}`,
      ),
  });
  for await (const event of stream) {
    cli.out(options.json ? JSON.stringify(await eventJson(event)) : await eventLine(event));
    if (options.count !== undefined && ++printed >= options.count) break;
  }
}
