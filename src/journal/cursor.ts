/**
 * Journal cursors: opaque strings naming a journal position. Clients pass
 * them back as `after` (or SSE `Last-Event-ID`) to resume right after that
 * event. The encoding is base64url of `journal:<position>`, so cursors from
 * other connections (`pendingBuildFinished`) are told apart.
 */
import { errors, quoted } from '../errors.js';

const PREFIX = 'journal:';

/** The cursor of a journal position. */
export function encodeCursor(position: number): string {
  return Buffer.from(`${PREFIX}${position}`).toString('base64url');
}

/** The position of a cursor; BAD_USER_INPUT for anything else. */
export function decodeCursor(cursor: string): number {
  const match = /^journal:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  const position = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(position)) throw errors.badInput(`not an event cursor: ${quoted(cursor)}`);
  return position;
}
