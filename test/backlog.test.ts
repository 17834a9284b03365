/**
 * The backlog's bookkeeping, on its own: notifications are keyed by the last
 * mark and their offset after it; a journaled key drops everything up to it;
 * unkeyed notifications (counted) are matched against the journal's tail by content;
 * a new connection starts over; a key journaled before this instance heard it
 * is owed and dropped through when heard.
 */
import { describe, expect, it } from 'vitest';
import { Backlog } from '../src/journal/backlog.js';

const at = new Date('2026-01-01T00:00:00Z');
const heard = (b: Backlog, ...payloads: string[]) => payloads.map((p) => b.hear('builds_added', p, at)!);

describe('Backlog', () => {
  it('keys notifications by the last mark and their offset after it', () => {
    const b = new Backlog();
    const [before] = heard(b, '1');
    b.passMark('a:1');
    const after = heard(b, '2', '3');
    b.passMark('b:7');
    const [later] = heard(b, '4');
    expect(before).toMatchObject({ mark: null, offset: null });
    expect(after.map((h) => [h.mark, h.offset])).toEqual([
      ['a:1', 0],
      ['a:1', 1],
    ]);
    expect(later).toMatchObject({ mark: 'b:7', offset: 0 });
  });

  it('drops through a journaled key, and only when it holds that key', () => {
    const b = new Backlog();
    b.passMark('m');
    heard(b, '1', '2', '3');
    expect(b.dropThrough('m', 7)).toBe(false);
    expect(b.dropThrough(null, null)).toBe(false);
    expect(b.size).toBe(3);
    expect(b.dropThrough('m', 1)).toBe(true);
    expect(b.take(10).map((h) => h.payload)).toEqual(['3']);
  });

  it('aligns unkeyed notifications with the longest matching end of the journal', () => {
    const b = new Backlog();
    heard(b, 'x', 'y', 'z');
    b.passMark('m');
    heard(b, 'k');
    const tail = ['v', 'w', 'x', 'y'].map((payload) => ({ channel: 'builds_added', payload }));
    expect(b.alignUnkeyed(tail)).toBe(2);
    expect(b.take(10).map((h) => h.payload)).toEqual(['z', 'k']);
  });

  it("counts the entries heard before the first mark; an evaluation's 1,000 of them are matched by a tail as deep", () => {
    const b = new Backlog();
    const evaluation = Array.from({ length: 1_000 }, (_, i) => String(i + 1));
    heard(b, ...evaluation);
    b.passMark('mine:1');
    heard(b, 'after');
    expect(b.unkeyed).toBe(1_000);
    const journaled = ['before', ...evaluation].map((payload) => ({ channel: 'builds_added', payload }));
    // The last 200 rows alone hold no run that starts where the entries start.
    expect(b.alignUnkeyed(journaled.slice(-200))).toBe(0);
    expect(b.alignUnkeyed(journaled.slice(-Math.max(200, b.unkeyed)))).toBe(1_000);
    expect(b.unkeyed).toBe(0);
    expect(b.take(10).map((h) => h.payload)).toEqual(['after']);
  });

  it('keeps everything when the journal does not end with what it heard', () => {
    const b = new Backlog();
    heard(b, 'x', 'y');
    expect(b.alignUnkeyed([{ channel: 'builds_added', payload: 'q' }])).toBe(0);
    expect(b.alignUnkeyed([{ channel: 'eval_started', payload: 'x' }])).toBe(0);
    expect(b.size).toBe(2);
  });

  it('starts over on a new connection: entries and marks of the old one are gone', () => {
    const b = new Backlog();
    b.passMark('m');
    heard(b, '1');
    b.reset();
    expect(b.size).toBe(0);
    expect(heard(b, '2')[0]).toMatchObject({ mark: null, offset: null });
  });

  it('takes entries that belong with the last one past the batch size', () => {
    const b = new Backlog();
    b.hear('build_finished', '7\t1', at);
    b.hear('build_finished', '7\t2', at);
    b.hear('build_finished', '7\t3', at);
    b.hear('build_finished', '8', at);
    const sameFirst = (x: { payload: string }, y: { payload: string }) => x.payload.split('\t')[0] === y.payload.split('\t')[0];
    expect(b.take(1, sameFirst).map((h) => h.payload)).toEqual(['7\t1', '7\t2', '7\t3']);
    expect(b.take(1, sameFirst).map((h) => h.payload)).toEqual(['8']);
  });

  it('puts back a failed batch in front, in order', () => {
    const b = new Backlog();
    heard(b, '1', '2', '3');
    const batch = b.take(2);
    heard(b, '4');
    b.putBack(batch);
    expect(b.take(10).map((h) => h.payload)).toEqual(['1', '2', '3', '4']);
  });

  it('owes a journaled key it has not reached yet, and drops everything through it when it is heard', () => {
    const b = new Backlog();
    b.passMark('m');
    heard(b, '1', '2');
    // The recorder journaled through (m, 4): this instance read its socket more slowly.
    expect(b.dropThrough('m', 4)).toBe(false);
    expect(b.owes).toBe(true);
    expect(b.size).toBe(2);
    heard(b, '3', '4');
    expect(b.hear('builds_added', '5', at)).toBeNull();
    expect([b.size, b.owes]).toEqual([0, false]);
    heard(b, '6');
    expect(b.take(10).map((h) => h.payload)).toEqual(['6']);
  });

  it('owes a key under a mark it has not passed; a new connection forgets it', () => {
    const b = new Backlog();
    heard(b, '1');
    expect(b.dropThrough('later', 0)).toBe(false);
    b.passMark('later');
    expect(b.hear('builds_added', '2', at)).toBeNull();
    expect(b.size).toBe(0);
    expect(b.dropThrough('again', 0)).toBe(false);
    b.reset();
    expect(b.owes).toBe(false);
    b.passMark('again');
    expect(heard(b, '3')).toHaveLength(1);
    expect(b.size).toBe(1);
  });

  it('knows the keys it passed, held or dropped, from those ahead of it', () => {
    const b = new Backlog();
    b.passMark('m');
    heard(b, '1', '2');
    expect(b.dropThrough('m', 0)).toBe(true);
    expect([b.passedKey('m', 0), b.passedKey('m', 1), b.passedKey('m', 2), b.passedKey('n', 0), b.passedKey(null, null)]).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
    b.passMark('n');
    expect(b.passedKey('m', 7)).toBe(true);
  });

  it('remembers the most entries it held at once', () => {
    const b = new Backlog();
    heard(b, '1', '2', '3');
    b.take(3);
    heard(b, '4');
    expect(b.peak).toBe(3);
  });
});
