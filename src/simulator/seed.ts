/**
 * The simulator's starting data: one user, two projects, their jobsets, and the packages
 * each project's evaluations produce.
 *
 * Contract: `seedHydra` is idempotent and additive. It inserts only the rows that are
 * absent and never updates existing ones, so it can run at every start against a
 * database that already holds data (its own from a previous run, or anybody's). Jobsets
 * are inserted only when missing because the `jobsets_added` trigger fires per INSERT
 * statement, even one that inserts nothing: a restart must not announce new jobsets.
 */
import type pg from 'pg';
import { inTransaction } from './notify.js';

/** A package a simulated evaluation can build: `attr` becomes the job `<attr>.<system>`. */
export interface Package {
  attr: string;
  pname: string;
  version: string;
  description: string;
}

/** The systems simulated builds run on. */
export const SYSTEMS = ['x86_64-linux', 'aarch64-linux'] as const;

/** What each seeded project's evaluations build; other projects use `nixpkgs`'s. */
export const PACKAGES: Record<string, readonly Package[]> = {
  nixpkgs: [
    { attr: 'hello', pname: 'hello', version: '2.12.1', description: 'A program that produces a familiar, friendly greeting' },
    { attr: 'coreutils', pname: 'coreutils', version: '9.5', description: 'The GNU Core Utilities' },
    { attr: 'openssl', pname: 'openssl', version: '3.3.2', description: 'A cryptographic library' },
    { attr: 'python3', pname: 'python3', version: '3.12.7', description: 'A high-level dynamically-typed programming language' },
    { attr: 'git', pname: 'git', version: '2.47.0', description: 'Distributed version control system' },
    { attr: 'curl', pname: 'curl', version: '8.10.1', description: 'A command line tool for transferring files with URL syntax' },
    { attr: 'jq', pname: 'jq', version: '1.7.1', description: 'A lightweight and flexible command-line JSON processor' },
    { attr: 'ripgrep', pname: 'ripgrep', version: '14.1.1', description: 'A fast line-oriented search tool' },
  ],
  hydra: [
    { attr: 'hydra', pname: 'hydra', version: '0-unstable-2026-08-01', description: 'Nix-based continuous build system' },
    { attr: 'manual', pname: 'hydra-manual', version: '0-unstable-2026-08-01', description: "Hydra's manual" },
    { attr: 'tests.install', pname: 'vm-test-run-hydra-install', version: '', description: 'Installation test' },
    { attr: 'tests.notifications', pname: 'vm-test-run-hydra-notifications', version: '', description: 'Notifications test' },
    { attr: 'queue-runner', pname: 'hydra-queue-runner', version: '0.1.0', description: 'The Rust queue runner' },
  ],
};

const USER = { username: 'simulator', emailaddress: 'simulator@example.org' };

const PROJECTS = [
  { name: 'nixpkgs', displayname: 'Nixpkgs', description: 'The Nix packages collection', homepage: 'https://github.com/NixOS/nixpkgs' },
  { name: 'hydra', displayname: 'Hydra', description: 'Hydra building itself', homepage: 'https://github.com/NixOS/hydra' },
];

interface SeedJobset {
  project: string;
  name: string;
  description: string;
  type: 0 | 1;
  flake: string | null;
  nixexprinput: string | null;
  nixexprpath: string | null;
  checkinterval: number;
}

const JOBSETS: SeedJobset[] = [
  {
    project: 'nixpkgs',
    name: 'trunk',
    description: 'master branch',
    type: 0,
    flake: null,
    nixexprinput: 'nixpkgs',
    nixexprpath: 'pkgs/top-level/release.nix',
    checkinterval: 300,
  },
  {
    project: 'nixpkgs',
    name: 'staging',
    description: 'staging branch',
    type: 0,
    flake: null,
    nixexprinput: 'nixpkgs',
    nixexprpath: 'pkgs/top-level/release.nix',
    checkinterval: 600,
  },
  {
    project: 'hydra',
    name: 'master',
    description: 'flake of the master branch',
    type: 1,
    flake: 'github:NixOS/hydra',
    nixexprinput: null,
    nixexprpath: null,
    checkinterval: 60,
  },
  {
    project: 'hydra',
    name: 'release',
    description: 'release.nix of the master branch',
    type: 0,
    flake: null,
    nixexprinput: 'hydra',
    nixexprpath: 'release.nix',
    checkinterval: 3600,
  },
];

/**
 * Inserts the seed user, projects and jobsets that are missing.
 * @returns how many jobsets it inserted.
 */
export async function seedHydra(pool: pg.Pool): Promise<number> {
  return inTransaction(pool, async (client) => {
    await client.query(
      `/* seedUser */
       insert into users (username, fullname, emailaddress, password)
       values ($1, 'Hydra simulator', $2, '!')
       on conflict (username) do nothing`,
      [USER.username, USER.emailaddress],
    );
    for (const project of PROJECTS) {
      await client.query(
        `/* seedProject */
         insert into projects (name, displayname, description, owner, homepage)
         values ($1, $2, $3, $4, $5)
         on conflict (name) do nothing`,
        [project.name, project.displayname, project.description, USER.username, project.homepage],
      );
    }
    const { rows } = await client.query<{ project: string; name: string }>(
      '/* seedExistingJobsets */ select project, name from jobsets where project = any($1::text[])',
      [PROJECTS.map((project) => project.name)],
    );
    const existing = new Set(rows.map((row) => `${row.project}:${row.name}`));
    const missing = JOBSETS.filter((jobset) => !existing.has(`${jobset.project}:${jobset.name}`));
    for (const jobset of missing) {
      await client.query(
        `/* seedJobset */
         insert into jobsets (project, name, description, type, flake, nixexprinput, nixexprpath, emailoverride, checkinterval)
         values ($1, $2, $3, $4, $5, $6, $7, '', $8)
         on conflict (project, name) do nothing`,
        [
          jobset.project,
          jobset.name,
          jobset.description,
          jobset.type,
          jobset.flake,
          jobset.nixexprinput,
          jobset.nixexprpath,
          jobset.checkinterval,
        ],
      );
    }
    return missing.length;
  });
}
