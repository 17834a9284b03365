/**
 * The `engines` claim of package.json is true: every package the lockfile
 * installs accepts the oldest Node the claim names and the Node running the
 * tests, so `npm ci` prints no EBADENGINE warning (see docs/decisions.md, "A
 * clean install on Node 20", for the pins that make it so).
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

/** Packages (name@version) whose `engines.node` does not accept `node`. */
function refusing(node: string): string[] {
  const refused: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Very old lockfile entries may hold an array here; npm ignores it.
    const wanted = path !== '' && entry.engines && !Array.isArray(entry.engines) ? entry.engines.node : undefined;
    if (wanted && !semver.satisfies(node, wanted, { includePrerelease: true })) {
      refused.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version} wants node ${wanted}`);
    }
  }
  return refused;
}

describe('engines', () => {
  const oldest = semver.minVersion(manifest.engines.node)!.version;

  it(`every installed package accepts the oldest Node package.json claims (${oldest})`, () => {
    expect(refusing(oldest)).toEqual([]);
  });

  it(`every installed package accepts the Node running the tests (${process.versions.node})`, () => {
    expect(semver.satisfies(process.versions.node, manifest.engines.node)).toBe(true);
    expect(refusing(process.versions.node)).toEqual([]);
  });
});
