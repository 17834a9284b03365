/**
 * Hydra's integer codes as GraphQL enums: `buildstatus` (builds and steps),
 * `buildsteps.busy`, step type and jobset type. Values follow Hydra's source
 * (hydra.sql and the queue runner; the comment in hydra.sql listing busy 1..6 is stale).
 * A code Hydra adds later is not an error: the enum field resolves to null and
 * the raw `…Code` field beside it still carries the number.
 */
import { BUILD_STATUS } from '../../hydra/rows.js';
import { builder } from '../builder.js';

/** `builds.buildstatus` / `buildsteps.status` codes (Hydra's, kept in hydra/rows.ts). */
export { BUILD_STATUS };

/** `buildsteps.busy` codes. */
export const BUSY = {
  NOT_BUSY: 0,
  PREPARING: 1,
  CONNECTING: 10,
  SENDING_INPUTS: 20,
  BUILDING: 30,
  WAITING_FOR_LOCAL_SLOT: 35,
  RECEIVING_OUTPUTS: 40,
  POST_PROCESSING: 50,
} as const;

function values<T extends Record<string, number>>(table: T) {
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [k, { value: v }])) as { [K in keyof T]: { value: T[K] } };
}

/** Each table's codes, made once (a page of builds asks 50 times). */
const CODES = new WeakMap<Record<string, number>, ReadonlySet<number>>();

/** A code as its enum value, or null when this gateway does not know it. */
export function known(table: Record<string, number>, code: number | null): number | null {
  if (code === null) return null;
  let codes = CODES.get(table);
  if (!codes) CODES.set(table, (codes = new Set(Object.values(table))));
  return codes.has(code) ? code : null;
}

export const BuildStatusEnum = builder.enumType('BuildStatus', {
  description: "Outcome of a build or step (Hydra's buildstatus). Steps only: CACHED_FAILURE, RESOLVED.",
  values: values(BUILD_STATUS),
});

export const BusyStatusEnum = builder.enumType('BusyStatus', {
  description: 'What a build step is doing (buildsteps.busy).',
  values: values(BUSY),
});

export const StepTypeEnum = builder.enumType('StepType', {
  values: { BUILD: { value: 0 }, SUBSTITUTION: { value: 1 } },
});

export const JobsetTypeEnum = builder.enumType('JobsetType', {
  values: { LEGACY: { value: 0 }, FLAKE: { value: 1 } },
});

export const JobsetStateEnum = builder.enumType('JobsetState', {
  description: 'jobsets.enabled: whether and how the jobset is evaluated.',
  values: { DISABLED: { value: 0 }, ENABLED: { value: 1 }, ONE_SHOT: { value: 2 }, ONE_AT_A_TIME: { value: 3 } },
});
