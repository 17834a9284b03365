/**
 * The live pipeline's split build_finished (events/pipeline.ts): chunks
 * journaled in separate writes still merge into one event when the later
 * write is slow, as long as this instance still owes notifications it heard
 * (`journaling`); without any owed, the chunk window emits what is open; and
 * a hold never outlasts its bound.
 */
import { describe, expect } from 'vitest';
import type { GatewayEvent } from '../src/events/event.js';
import { CHUNK_HOLD_WINDOWS, Pipeline } from '../src/events/pipeline.js';
import { silentLog } from '../src/log.js';
import { buildFinishedPayloads } from '../src/simulator/payloads.js';
import { until } from './support/clients.js';
import { test } from './support/fixtures.js';
import { notificationRow } from './support/journal.js';

const WINDOW_MS = 20;

const row = (position: number, payload: string) => notificationRow(position, 'build_finished', payload);

describe('a split build_finished', () => {
  test('merges across a slow second journal write while chunks are owed, and is emitted by the window otherwise', async ({ db }) => {
    const chunks = buildFinishedPayloads(
      7,
      Array.from({ length: 2_500 }, (_, k) => 10_000 + k),
      true,
    );
    expect(chunks.length).toBeGreaterThan(1);
    let owed = true;
    const emitted: GatewayEvent[] = [];
    const pipeline = new Pipeline({
      db: db.pool,
      log: silentLog,
      chunkWindowMs: WINDOW_MS,
      journaling: () => owed,
      emit: (e) => void emitted.push(e),
    });
    pipeline.accept(row(1, chunks[0]!));
    // Five windows pass before the rest is journaled: nothing is emitted meanwhile.
    const start = performance.now();
    await until(() => performance.now() - start > WINDOW_MS * 5, 1_000, 'five windows');
    expect(emitted).toEqual([]);
    chunks.slice(1).forEach((payload, i) => pipeline.accept(row(2 + i, payload)));
    owed = false;
    await until(() => emitted.length === 1, 1_000, 'the merged event');
    expect(emitted[0]!.chunks).toBe(chunks.length);
    expect((emitted[0]!.notice as { dependentIds: number[] }).dependentIds).toHaveLength(2_500);

    // Nothing owed: the window emits the first chunk alone.
    pipeline.accept(row(100, chunks[0]!));
    await until(() => emitted.length === 2, 1_000, 'the window');
    expect(emitted[1]!.chunks).toBe(1);

    // Owed for ever: held at most CHUNK_HOLD_WINDOWS windows.
    owed = true;
    const held = performance.now();
    pipeline.accept(row(200, chunks[0]!));
    await until(() => emitted.length === 3, WINDOW_MS * CHUNK_HOLD_WINDOWS * 10, 'the bound');
    expect(performance.now() - held).toBeGreaterThanOrEqual(WINDOW_MS * (CHUNK_HOLD_WINDOWS - 1));
    pipeline.close();
  });
});
