/**
 * Hydra's notification channels: the complete list the gateway LISTENs on.
 *
 * Contract: this table is the single source of truth for channel names. The
 * listener LISTENs on exactly these, the payload parser has one rule per entry
 * and the GraphQL schema derives its subscriptions from them. Names are
 * Postgres identifiers spelt as Hydra sends them (lower case, unquoted).
 *
 * Glossary:
 * - evaluator: hydra-eval-jobset, sends the eval_* channels and build_queued.
 * - queue runner: hydra-queue-runner, sends build_started, step_*, build_finished.
 * - trigger channels: sent by triggers on `builds` and `jobsets`, no payload.
 */

/** Channels the evaluator sends about one evaluation attempt of a jobset (`trace\tjobset_id[\teval_id]`). */
export const EVAL_CHANNELS = ['eval_started', 'eval_added', 'eval_cached', 'eval_failed'] as const;

/** Channels that name one build (and, for steps, a step). */
export const BUILD_CHANNELS = [
  'build_queued',
  'build_started',
  'step_started',
  'step_finished',
  'build_finished',
  'cached_build_queued',
  'cached_build_finished',
] as const;

/**
 * Channels that wake Hydra's daemons rather than describe one row: the
 * payload-less trigger channels, `builds_added` (lowest new build id or `?`)
 * and the operator's `hydra_notify_dump_metrics`. The GraphQL schema serves
 * them all through `queueChanged`.
 */
export const QUEUE_CHANNELS = [
  'builds_added',
  'builds_restarted',
  'builds_cancelled',
  'builds_bumped',
  'builds_deleted',
  'jobsets_added',
  'jobsets_deleted',
  'jobset_scheduling_changed',
  'jobset_shares_changed',
  'hydra_notify_dump_metrics',
] as const;

/** Every channel the gateway LISTENs on. */
export const CHANNELS = [...EVAL_CHANNELS, ...BUILD_CHANNELS, ...QUEUE_CHANNELS] as const;

/** A channel name the gateway knows. */
export type Channel = (typeof CHANNELS)[number];
/** A channel served by `queueChanged`. */
export type QueueChannel = (typeof QUEUE_CHANNELS)[number];

const known = new Set<string>(CHANNELS);

/** Whether `name` is one of the channels the gateway LISTENs on. */
export function isChannel(name: string): name is Channel {
  return known.has(name);
}
