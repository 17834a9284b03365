/**
 * "What happened since I was last here": the cursor of the newest event this
 * browser saw, saved in localStorage (`hng.lastSeen`) as events arrive, and
 * the one the previous visit left, read once when the page opens.
 *
 * Contract: `previousVisit` is fixed for the life of the page (the saved
 * cursor as the page found it), so History can page through everything after
 * it while this visit keeps saving newer cursors for the next one. Saving is
 * at most once a second and on leaving the page (`pagehide`).
 */
import type { LiveFeed } from '../live/feed';

const KEY = 'hng.lastSeen';

/** A saved place in the journal. */
export interface Visit {
  cursor: string;
  /** When it was saved. */
  at: string;
}

function read(): Visit | null {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Visit | null;
    return value && typeof value.cursor === 'string' && typeof value.at === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** Where the previous visit left off, or null on a first visit. */
export const previousVisit: Visit | null = read();

/** Saves the feed's newest cursor for the next visit, from now on. */
export function rememberVisits(feed: LiveFeed): void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const save = () => {
    timer = null;
    const cursor = feed.lastCursor;
    if (cursor) localStorage.setItem(KEY, JSON.stringify({ cursor, at: new Date().toISOString() } satisfies Visit));
  };
  feed.onEvent(() => {
    timer ??= setTimeout(save, 1_000);
  });
  window.addEventListener('pagehide', save);
}
