/**
 * Journal cursors as the dashboard shows them. A cursor is opaque to clients
 * (passed back as `after` exactly as received); the gateway's are
 * base64url of `journal:<position>`, and the position is what a person can
 * compare ("resumed from cursor 1234"). Anything else is shown as it is.
 */

/** The journal position a cursor names, or the cursor itself when it names none. */
export function cursorLabel(cursor: string): string {
  try {
    const text = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
    const match = /^journal:(\d+)$/.exec(text);
    return match ? match[1]! : cursor;
  } catch {
    return cursor;
  }
}
