/**
 * The error table: every code of src/errors.ts is in the README's table with
 * the same meaning, and the README lists no code the gateway does not have.
 * Every factory makes a GraphQLError whose `extensions.code` is in the table.
 * What pg throws when the database cannot be reached is told apart from a
 * statement that failed, on real connections.
 */
import { readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, errors, isDatabaseUnavailable, maskUnexpected } from '../src/errors.js';
import { createTestDatabase } from './support/database.js';
import { freePort } from './support/ports.js';

/** The rows of the README's table of codes: `| \`CODE\` | meaning |`. */
function readmeCodes(): Record<string, string> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('| Code | Meaning |');
  expect(start, 'the README has a table of error codes').toBeGreaterThan(0);
  const rows: Record<string, string> = {};
  for (const line of readme.slice(start).split('\n').slice(2)) {
    const match = /^\| `([A-Z_]+)` \| (.*) \|$/.exec(line);
    if (!match) break;
    rows[match[1]!] = match[2]!;
  }
  return rows;
}

describe('error codes', () => {
  it('the README lists exactly the codes of src/errors.ts, with their meanings', () => {
    expect(readmeCodes()).toEqual({ ...ERROR_CODES });
  });

  it('every factory makes a GraphQLError with a listed code', () => {
    const made = [
      errors.unauthenticated(),
      errors.forbidden('x'),
      errors.limitExceeded('x', 'HNG_X'),
      errors.tokenNotFound('t'),
      errors.tokenExists('t'),
      errors.badInput('x'),
      errors.buildNotFound(1),
      errors.consumerNotFound('c'),
      errors.consumerExists('c'),
      errors.webhookNotFound('w'),
      errors.webhookExists('w'),
      errors.deliveryNotFound('1'),
      errors.notFinished(1),
      errors.cursorExpired(1, 2),
      errors.observerMode(),
      errors.slowConsumer('x'),
      errors.rowLoadFailed(),
      errors.databaseUnavailable(),
    ];
    expect(Object.keys(errors)).toHaveLength(made.length);
    for (const error of made) {
      expect(error).toBeInstanceOf(GraphQLError);
      expect(Object.keys(ERROR_CODES)).toContain(error.extensions.code);
    }
    expect(new Set(made.map((e) => e.extensions.code))).toEqual(new Set(Object.keys(ERROR_CODES)));
  });

  it('quotes what the client sent, cut short', () => {
    expect(errors.consumerNotFound('x'.repeat(10_000)).message.length).toBeLessThan(200);
  });
});

describe('a database that cannot be reached', () => {
  const asField = (error: Error) => new GraphQLError(error.message, { path: ['pendingBuildFinished'], originalError: error });

  it('is DATABASE_UNAVAILABLE at the same path; a failed statement stays masked', async () => {
    // Refused: nothing listens on the port.
    const refused = await new pg.Client({ host: '127.0.0.1', port: await freePort(), user: 'x', database: 'x' })
      .connect()
      .then(() => null)
      .catch((error: Error) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(refused)).toBe(true);
    const masked = maskUnexpected(asField(refused!)) as GraphQLError;
    expect(masked.extensions.code).toBe('DATABASE_UNAVAILABLE');
    expect(masked.path).toEqual(['pendingBuildFinished']);
    expect(masked.message).not.toContain('127.0.0.1');

    // Dropped: the server ends the session (57P01, then the connection is gone).
    const db = await createTestDatabase();
    const victim = new pg.Client({ connectionString: db.url });
    victim.on('error', () => {});
    await victim.connect();
    const { rows } = await victim.query('SELECT pg_backend_pid() AS pid');
    await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    const dropped = await victim.query('SELECT 1').catch((error: Error) => error);
    expect(isDatabaseUnavailable(dropped)).toBe(true);
    await victim.end().catch(() => {});

    // A statement that failed on a database that is there: not an outage.
    const failed = await db.pool.query('SELECT * FROM no_such_table').catch((error: Error) => error);
    expect(isDatabaseUnavailable(failed)).toBe(false);
    expect((maskUnexpected(asField(failed as Error)) as GraphQLError).message).toBe('Unexpected error.');
    // A gateway error keeps its own code.
    expect((maskUnexpected(asField(errors.notFinished(1))) as GraphQLError).extensions.code).toBe('NOT_FINISHED');
  });
});
