/**
 * Journal cursors: opaque strings naming a journal position. Clients pass
 * them back as `after` (or SSE `Last-Event-ID`) to resume right after that
 * event. The encoding is base64url of `journal:<position>`, so cursors from
 * other connections (`pendingBuildFinished`) are told apart.
 */
import { GraphQLError } from 'graphql';

const PREFIX = 'journal:';

/** The cursor of a journal position. */
export function encodeCursor(position: number): string {
  return Buffer.from(`${PREFIX}${position}`).toString('base64url');
}

/** The position of a cursor; a BAD_USER_INPUT error for anything else. */
export function decodeCursor(cursor: string): number {
  const match = /^journal:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  const position = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(position)) {
    throw new GraphQLError(`not an event cursor: ${JSON.stringify(cursor.slice(0, 100))}`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return position;
}

/** The error for a cursor whose events were pruned by retention. */
export function cursorExpired(position: number, prunedThrough: number): GraphQLError {
  return new GraphQLError(
    `cursor expired: events after it up to position ${prunedThrough} were pruned by retention; read pendingBuildFinished or start without a cursor`,
    { extensions: { code: 'CURSOR_EXPIRED', position, prunedThrough } },
  );
}
