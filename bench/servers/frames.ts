/**
 * The fan-out subscription every server under test serves, and the frames
 * the hand-written floor sends for it.
 *
 * Contract: `FANOUT_QUERY` is the one document the bench's subscribers send.
 * `buildStartedPayload` is the GraphQL result for one event, as the gateway
 * and plain yoga shape it (fields in the document's order; `build` null when
 * the row is missing), serialised once per event by the floor; the graphql-ws
 * `next` frame and the SSE `next` event wrap those same bytes per subscriber.
 */

/** The subscription used for fan-out. */
export const FANOUT_QUERY = 'subscription { buildStarted { buildId build { id job system jobset { name project { name } } } } }';

/** The row the floor loads per event (one statement). */
export interface FanoutRow {
  id: number;
  job: string;
  system: string;
  jobset: string;
  project: string;
}

/** The JSON of `{ data: { buildStarted } }` for one event. */
export function buildStartedPayload(buildId: number, row: FanoutRow | null): string {
  const build = row ? { id: row.id, job: row.job, system: row.system, jobset: { name: row.jobset, project: { name: row.project } } } : null;
  return JSON.stringify({ data: { buildStarted: { buildId, build } } });
}

/** The graphql-ws frame prefix of subscription `id`; append the payload and `}`. */
export function nextFramePrefix(id: string): string {
  return `{"id":${JSON.stringify(id)},"type":"next","payload":`;
}

/** One SSE `next` event (graphql-sse distinct-connections protocol). */
export function sseNext(payload: string): string {
  return `event: next\ndata: ${payload}\n\n`;
}
