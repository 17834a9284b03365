/**
 * What tests of consumers and acknowledgements share: the GraphQL documents
 * they send, finishing builds the way Hydra's queue runner does (the finish,
 * then its build_finished in a later transaction), reading Hydra's column
 * back, and waiting for a gateway to catch up with what was sent, without
 * sleeping.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import type pg from 'pg';
import { until } from './clients.js';
import { notify, type TestDatabase } from './database.js';
import type { TestGateway } from './gateway.js';
import { finishBuilds } from './hydra.js';

/** A typed document, parsed from its text. */
export type Doc<T, V = Record<string, unknown>> = TypedDocumentNode<T, V>;
export const doc = <T, V = Record<string, unknown>>(text: string) => parse(text) as Doc<T, V>;

export const CREATE = doc<{ createConsumer: { name: string; paused: boolean; pending: number } }, { name: string }>(
  'mutation ($name: String!) { createConsumer(name: $name) { name paused pending } }',
);
export const PAUSE = doc<unknown, { name: string }>('mutation ($name: String!) { pauseConsumer(name: $name) { name paused } }');
export const RESUME = doc<unknown, { name: string }>('mutation ($name: String!) { resumeConsumer(name: $name) { name paused } }');
export const REMOVE = doc<{ removeConsumer: boolean }, { name: string }>('mutation ($name: String!) { removeConsumer(name: $name) }');
export const ACK = doc<
  { acknowledgeBuildFinished: { outcome: string; pendingSince: string | null } },
  { buildId: number; pendingSince: string; consumer?: string }
>(
  'mutation ($buildId: Int!, $pendingSince: DateTime!, $consumer: String) { acknowledgeBuildFinished(buildId: $buildId, pendingSince: $pendingSince, consumer: $consumer) { outcome pendingSince } }',
);
export const ACK_BATCH = doc<
  { acknowledgeBuildsFinished: ({ buildId: number; outcome: string; pendingSince: string | null } | null)[] },
  { items: { buildId: number; pendingSince: string }[]; consumer?: string }
>(
  'mutation ($items: [AcknowledgeBuildFinishedInput!]!, $consumer: String) { acknowledgeBuildsFinished(items: $items, consumer: $consumer) { buildId outcome pendingSince } }',
);
export const PENDING = doc<{ pendingBuildFinished: { edges: { pendingSince: string; node: { id: number } }[] } }, { consumer?: string }>(
  'query ($consumer: String) { pendingBuildFinished(first: 500, consumer: $consumer) { edges { pendingSince node { id } } } }',
);

/** What a consumer's `buildFinished` delivers. */
export type Finished = {
  buildFinished: {
    buildId: number;
    pendingSince: string;
    consumer: string;
    deliveryCount: number;
    source: string;
    build: { id: number; finished: boolean };
  };
};
export const CONSUME = doc<Finished, { consumer: string }>(
  'subscription ($consumer: String!) { buildFinished(consumer: $consumer) { buildId pendingSince consumer deliveryCount source build { id finished } } }',
);

/** Unix seconds as the ISO 8601 DateTime the API speaks. */
export const iso = (unix: number) => new Date(unix * 1000).toISOString();

/** Finishes builds as the queue runner does, then sends their build_finished in a later transaction. */
export async function finishAndNotify(pool: pg.Pool, ids: number[], stopTime?: number): Promise<number> {
  const since = await finishBuilds(pool, ids, { stopTime });
  for (const id of ids) await notify(pool, [['build_finished', String(id)]]);
  return since;
}

/** Hydra's `notificationpendingsince` of build `id`, straight from the table. */
export async function pendingColumn(pool: pg.Pool, id: number): Promise<number | null> {
  const { rows } = await pool.query('SELECT notificationpendingsince AS p FROM builds WHERE id = $1', [id]);
  return rows[0].p === null ? null : Number(rows[0].p);
}

let markers = 1_000_000_000;

/** Waits until everything sent to `db` so far is journaled and published by the gateway's reader. */
export async function caughtUp(db: TestDatabase, gateway: TestGateway): Promise<void> {
  const marker = String(++markers);
  await notify(db.pool, [['builds_added', marker]]);
  let position = 0;
  await until(
    () => position > 0 && gateway.reader.position >= position,
    10_000,
    'reader caught up',
    async () => {
      const { rows } = await db.pool.query(
        `SELECT position FROM hydra_notify_gateway.journal WHERE channel = 'builds_added' AND payload = $1`,
        [marker],
      );
      position = rows[0] ? Number(rows[0].position) : 0;
    },
  );
}
