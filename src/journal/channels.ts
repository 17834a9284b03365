/**
 * The gateway's own channels, beside Hydra's, on the same database. Every
 * instance LISTENs on them; none is journaled or shown to clients. Payloads
 * stay far below Postgres's 8000-byte limit (`MAX_INTERNAL_PAYLOAD`).
 */

/** A reference point in the notification stream: payload `<instance>:<n>`. */
export const MARK_CHANNEL = 'hng_mark';
/** The recorder journaled rows up to a position: payload the position. */
export const JOURNAL_CHANNEL = 'hng_journal';
/** A consumer's occurrences changed (redelivery, resume): payload the consumer name. */
export const CONSUMER_CHANNEL = 'hng_consumer';

/** Every internal channel. */
export const INTERNAL_CHANNELS = [MARK_CHANNEL, JOURNAL_CHANNEL, CONSUMER_CHANNEL] as const;

/** Longest payload the gateway sends on its own channels. */
export const MAX_INTERNAL_PAYLOAD = 200;
