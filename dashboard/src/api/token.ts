/**
 * The bearer token the dashboard sends: typed once into the header's token
 * field and kept in this browser's localStorage (`hng.token`), so a reload
 * or another tab of the same origin keeps it. None saved: the dashboard reads
 * anonymously, which the embedded demo allows (`HNG_ANONYMOUS=read`).
 *
 * Contract: `savedToken()` is read at every use (connection_init, each HTTP
 * request), so a change applies to the next one; `onTokenChange` listeners
 * (the connection, which reconnects with it) hear every change, including
 * one made in another tab (the `storage` event).
 */

const KEY = 'hng.token';
const listeners = new Set<() => void>();

/** The saved token, or null. */
export function savedToken(): string | null {
  try {
    const token = localStorage.getItem(KEY);
    return token && token.trim() !== '' ? token.trim() : null;
  } catch {
    return null;
  }
}

/** Saves `token` (null or blank forgets it) and tells the listeners. */
export function saveToken(token: string | null): void {
  const value = token?.trim() ?? '';
  if (value === '') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, value);
  for (const listener of listeners) listener();
}

/** Calls `listener` after each change of the saved token; returns the unsubscribe. */
export function onTokenChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

window.addEventListener('storage', (event) => {
  if (event.key === KEY) for (const listener of listeners) listener();
});
