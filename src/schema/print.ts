/**
 * Writes `schema.graphql` at the repository root from the Pothos schema
 * (`npm run codegen` runs it before graphql-codegen). A test fails when the
 * committed file drifts from what this prints.
 */
import { writeFileSync } from 'node:fs';
import { printSortedSchema } from './index.js';

writeFileSync(new URL('../../schema.graphql', import.meta.url), printSortedSchema());
