/**
 * Server-side TCP keepalives for the gateway's dedicated sessions (the LISTEN
 * connection and the recorder's): Postgres drops the session of a client
 * that vanished (a killed process, a cut network) within about 25 s, so the
 * recorder lock such a session holds frees for another instance, and a
 * listener's place in the notification queue stops holding it.
 */
import type pg from 'pg';

/** Probe after 10 s of silence, every 5 s, 3 times. */
const KEEPALIVE_SQL = '/* sessionKeepalive */ SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3';

/** Sets the keepalives on `client`'s server session (once, right after it connects). */
export async function keepSessionAlive(client: pg.Client): Promise<void> {
  await client.query(KEEPALIVE_SQL);
}
