/**
 * Formatting of the payloads the simulated queue runner sends.
 *
 * Contract: `buildFinishedPayloads` formats `build_finished` exactly as Hydra's Rust queue
 * runner does since July 2026: one payload `build_id[\tdependent_id]*` when it fits in
 * `MAX_PAYLOAD_BYTES`, otherwise several, each starting with the same build id and
 * carrying a disjoint slice of the dependents, to be sent back to back in one transaction.
 * Nothing marks the last chunk. A failed build lists itself first among its dependents.
 */

/**
 * Longest `build_finished` payload the Rust runner sends before splitting.
 * @default 7000 // bytes, Postgres refuses payloads of 8000 bytes or more
 */
export const MAX_PAYLOAD_BYTES = 7000;

/**
 * The `build_finished` payloads announcing `buildId` and its `dependentIds`.
 * @param selfListed list the build among its own dependents, as Hydra does on failure.
 * @returns one or more payloads, each at most `MAX_PAYLOAD_BYTES` bytes (ids are ASCII).
 */
export function buildFinishedPayloads(buildId: number, dependentIds: number[], selfListed: boolean): string[] {
  const head = String(buildId);
  const rest = [...new Set(dependentIds)].filter((id) => id !== buildId);
  const listed = selfListed ? [buildId, ...rest] : rest;
  if (listed.length === 0) return [head];

  const payloads: string[] = [];
  let current = head;
  let count = 0;
  for (const id of listed) {
    const field = `\t${id}`;
    if (count > 0 && current.length + field.length > MAX_PAYLOAD_BYTES) {
      payloads.push(current);
      current = head;
      count = 0;
    }
    current += field;
    count++;
  }
  payloads.push(current);
  return payloads;
}
