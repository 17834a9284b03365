/**
 * Generated files match their sources: `schema.graphql` is what the Pothos
 * schema prints, and `src/client/generated/operations.ts` is what graphql-codegen
 * makes from it and src/client/operations. Run `npm run codegen` when this fails.
 * The README's GraphQL examples are checked against the schema too, and
 * every root field of the schema has a document in src/client/operations, so
 * the client module offers every public operation typed.
 */
import { readdirSync, readFileSync } from 'node:fs';
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

  it('src/client/generated/operations.ts and dashboard/src/api/generated.ts are what codegen generates (run `npm run codegen`)', async () => {
    const outputs = (await generate({ ...config, cwd: root.pathname, silent: true }, false)) as { filename: string; content: string }[];
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) {
      expect(readFileSync(new URL(output.filename, root), 'utf8'), output.filename).toBe(output.content);
    }
  });

  it('every query, mutation and subscription of the schema has a document in src/client/operations', async () => {
    const { buildSchema, parse } = await import('graphql');
    const schema = buildSchema(readFileSync(new URL('schema.graphql', root), 'utf8'));
    const folder = new URL('src/client/operations/', root);
    const used = new Set<string>();
    for (const file of readdirSync(folder).filter((f) => f.endsWith('.graphql'))) {
      for (const definition of parse(readFileSync(new URL(file, folder), 'utf8')).definitions) {
        if (definition.kind !== 'OperationDefinition') continue;
        for (const selection of definition.selectionSet.selections)
          if (selection.kind === 'Field') used.add(`${definition.operation}.${selection.name.value}`);
      }
    }
    const roots = [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ] as const;
    const fields = roots.flatMap(([operation, type]) => Object.keys(type?.getFields() ?? {}).map((name) => `${operation}.${name}`));
    expect(fields.length).toBeGreaterThan(30);
    expect(fields.filter((field) => !used.has(field))).toEqual([]);
  });
});
