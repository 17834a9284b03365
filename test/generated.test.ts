/**
 * Generated files match their sources: `schema.graphql` is what the Pothos
 * schema prints, and `test/generated/operations.ts` is what graphql-codegen
 * makes from it and test/operations. Run `npm run codegen` when this fails.
 * The README's GraphQL examples are checked against the schema too.
 */
import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../codegen.js';
import { printSortedSchema } from '../src/schema/index.js';

const root = new URL('../', import.meta.url);

describe('README', () => {
  it('every GraphQL example in the README is valid against the schema', async () => {
    const { buildSchema, parse, validate } = await import('graphql');
    const schema = buildSchema(readFileSync(new URL('schema.graphql', root), 'utf8'));
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const examples = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(examples.length).toBeGreaterThanOrEqual(5);
    for (const example of examples)
      expect(
        validate(schema, parse(example)).map((e) => e.message),
        example,
      ).toEqual([]);
  });
});

describe('generated files', () => {
  it('schema.graphql is the printed schema (run `npm run codegen`)', () => {
    expect(readFileSync(new URL('schema.graphql', root), 'utf8')).toBe(printSortedSchema());
  });

  it('test/generated/operations.ts is what codegen generates (run `npm run codegen`)', async () => {
    const outputs = (await generate({ ...config, cwd: root.pathname, silent: true }, false)) as { filename: string; content: string }[];
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) {
      expect(readFileSync(new URL(output.filename, root), 'utf8'), output.filename).toBe(output.content);
    }
  });
});
