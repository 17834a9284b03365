/**
 * The scenarios of `npm run bench`, in the order they run. The
 * gateway-alone scenarios come last and in this order on purpose: the burst
 * fills the journal that `events` pages through, and `pending` reads the
 * backlog before `acknowledge` consumes it (each also works alone, with
 * `--only`, preparing what it lacks).
 */
import { acknowledge } from './acknowledge.js';
import { burst } from './burst.js';
import { events } from './events.js';
import { fanout } from './fanout.js';
import { pending } from './pending.js';
import type { Scenario } from './scenario.js';
import { sse } from './sse.js';
import { webhooks } from './webhooks.js';

/** Every scenario, in running order. */
export const SCENARIOS: readonly Scenario[] = [fanout, sse, burst, events, pending, acknowledge, webhooks];
