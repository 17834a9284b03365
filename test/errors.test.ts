/**
 * The error table: every code of src/errors.ts is in the README's table with
 * the same meaning, and the README lists no code the gateway does not have.
 * Every factory makes a GraphQLError whose `extensions.code` is in the table.
 */
import { readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, errors } from '../src/errors.js';

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
