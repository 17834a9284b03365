/**
 * The gateway's services as the CLI builds them: the same classes the
 * gateway composes (consumers/service.ts), on the CLI's pool, so a command
 * applies exactly the rules a GraphQL mutation does (names, NOT_FOUND,
 * owner/observer mode from HNG_MODE, hints to every running instance on
 * `hng_consumer`). The CLI subscribes to nothing: the hub it hands over is
 * never published to.
 */
import type pg from 'pg';
import type { Config } from '../config.js';
import { ConsumerService } from '../consumers/service.js';
import { EventHub } from '../events/hub.js';
import { silentLog } from '../log.js';

/** The consumer service on `pool`, in the configured mode. */
export function consumerService(pool: pg.Pool, config: Config): ConsumerService {
  return new ConsumerService({
    pool,
    hub: new EventHub(),
    mode: config.mode,
    visibilityMs: config.visibilityTimeoutMs,
    log: silentLog,
    recording: () => false,
    maxAckBatch: config.limits.maxAckBatch,
  });
}
