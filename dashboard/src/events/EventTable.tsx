/**
 * Events as a table, one row each, newest where the caller puts it: time,
 * channel, what happened, the cursor's journal position. A gap (a GapEvent,
 * or `precededByGap` on the next event when a filter hid the gap itself) is
 * a row of its own across the table, shown once however many events name it.
 */
import type { EventFieldsFragment } from '../api/generated';
import { cursorLabel } from '../api/cursor';
import { channelName, time } from '../format';
import { type Described, describe, gap } from './describe';

/** One row to show: an event, or a gap before one. */
type Row = { key: string; event: EventFieldsFragment | null; said: Described; at: string; channel: string; cursor: string | null };

/** The rows of `events` in the given order, gaps included once. */
function rows(events: readonly EventFieldsFragment[], newestFirst: boolean): Row[] {
  const out: Row[] = [];
  const gaps = new Set<string>();
  const ordered = newestFirst ? [...events].reverse() : events;
  for (const event of ordered) {
    if (event.__typename === 'GapEvent') gaps.add(`${event.from}|${event.to}`);
  }
  ordered.forEach((event, i) => {
    const before = event.precededByGap;
    const gapRow: Row | null =
      before && !gaps.has(`${before.from}|${before.to}`)
        ? {
            key: `gap-${before.from}-${before.to}`,
            event: null,
            said: gap(before.from, before.to),
            at: before.to,
            channel: 'gap',
            cursor: null,
          }
        : null;
    if (gapRow) gaps.add(`${before!.from}|${before!.to}`);
    const row: Row = {
      key: event.cursor ?? `${event.receivedAt}-${i}`,
      event,
      said: describe(event),
      at: event.receivedAt,
      channel: event.__typename === 'GapEvent' ? 'gap' : channelName(event.channel),
      cursor: event.cursor,
    };
    if (newestFirst) out.push(row, ...(gapRow ? [gapRow] : []));
    else out.push(...(gapRow ? [gapRow] : []), row);
  });
  return out;
}

/** The table. */
export function EventTable({ events, newestFirst = false }: { events: readonly EventFieldsFragment[]; newestFirst?: boolean }) {
  const list = rows(events, newestFirst);
  return (
    <table class="events">
      <thead>
        <tr>
          <th>time</th>
          <th>channel</th>
          <th>what happened</th>
          <th title="the event's place in the journal">cursor</th>
        </tr>
      </thead>
      <tbody>
        {list.map((row) =>
          row.said.tone === 'gap' ? (
            <tr key={row.key} class="gap" data-cursor={row.cursor ?? undefined}>
              <td colSpan={4}>
                <strong>{row.said.title}</strong> <span class="muted">{row.said.detail}</span>
              </td>
            </tr>
          ) : (
            <tr key={row.key} class={`tone-${row.said.tone}`} data-cursor={row.cursor ?? undefined}>
              <td class="nowrap">{time(row.at)}</td>
              <td>
                <code>{row.channel}</code>
              </td>
              <td>
                <div>{row.said.title}</div>
                {row.said.detail ? <div class="muted small">{row.said.detail}</div> : null}
              </td>
              <td class="muted small">{row.cursor ? cursorLabel(row.cursor) : ''}</td>
            </tr>
          ),
        )}
      </tbody>
    </table>
  );
}
