/**
 * Which commits a build's statuses go to, found the way Hydra's GithubStatus
 * plugin finds them, in Hydra's tables (read-only): for each evaluation that
 * contains the build (`jobsetevalmembers`), or only the one a cached event
 * names, either the flake it was evaluated from (`github:OWNER/REPO/REV`,
 * optionally `?narHash=…`, or `git+ssh://git@github.com/OWNER/REPO?…rev=REV`,
 * any host), or, for each configured input name, the input's row
 * (`jobsetevalinputs`, `altnr = 0`): owner and repository from the last two
 * path segments of its URI (without `.git`), the commit its revision. One
 * target per (input, owner, repo, revision), however many evaluations share it.
 */
import type { Queryable } from '../../db/queryable.js';

/** Where one status goes. */
export interface CommitTarget {
  owner: string;
  repo: string;
  /** The 40-hex commit. */
  rev: string;
  /** The input it came from; null for a flake. */
  input: string | null;
}

const REV = /^[0-9a-f]{40}$/;

/** The commit of a flake reference, or null for one that names none. */
export function commitOfFlake(flake: string): Omit<CommitTarget, 'input'> | null {
  const github = /^github:([\w.-]+)\/([\w.-]+)\/([0-9a-f]{40})(?:\?.*)?$/.exec(flake);
  if (github) return { owner: github[1]!, repo: github[2]!, rev: github[3]! };
  const git = /^git\+(?:ssh|https):\/\/(?:[^@/]+@)?[^/]+\/([\w.-]+)\/([\w.-]+?)(?:\.git)?\?(.*)$/.exec(flake);
  if (git) {
    const rev = new URLSearchParams(git[3]).get('rev');
    if (rev && REV.test(rev)) return { owner: git[1]!, repo: git[2]!, rev };
  }
  return null;
}

/** The owner and repository of an input's URI (its last two path segments), or null. */
export function repositoryOfUri(uri: string): { owner: string; repo: string } | null {
  const path = uri
    .replace(/^[a-z+]+:\/\/[^/]*/i, '')
    .replace(/^[^@/]+@[^:]+:/, '')
    .replace(/[?#].*$/, '');
  const parts = path.split('/').filter(Boolean);
  if (parts.length < 2) return null;
  return { owner: parts.at(-2)!, repo: parts.at(-1)!.replace(/\.git$/, '') };
}

/** The evaluations that contain `buildId`. */
export async function evaluationsOf(db: Queryable, buildId: number): Promise<number[]> {
  const { rows } = await db.query('/* evaluationsOfBuild */ SELECT eval FROM jobsetevalmembers WHERE build = $1 ORDER BY eval', [buildId]);
  return rows.map((r: { eval: number }) => Number(r.eval));
}

/** The commit targets of `evaluations` for `inputs` (names of legacy inputs; flakes need none). */
export async function commitsOf(db: Queryable, evaluations: readonly number[], inputs: readonly string[]): Promise<CommitTarget[]> {
  if (evaluations.length === 0) return [];
  const { rows } = await db.query(
    `/* evaluationCommits */ SELECT e.id, e.flake, i.name, i.uri, i.revision
     FROM jobsetevals e LEFT JOIN jobsetevalinputs i ON i.eval = e.id AND i.altnr = 0 AND i.name = ANY($2::text[])
     WHERE e.id = ANY($1::int[]) ORDER BY e.id, i.name`,
    [evaluations, inputs],
  );
  const targets = new Map<string, CommitTarget>();
  for (const r of rows as { flake: string | null; name: string | null; uri: string | null; revision: string | null }[]) {
    let target: CommitTarget | null = null;
    if (r.flake) {
      const commit = commitOfFlake(r.flake);
      if (commit) target = { ...commit, input: null };
    } else if (r.name && r.uri && r.revision && REV.test(r.revision)) {
      const repository = repositoryOfUri(r.uri);
      if (repository) target = { ...repository, rev: r.revision, input: r.name };
    }
    if (target) targets.set(`${target.input}\u0000${target.owner}/${target.repo}@${target.rev}`, target);
  }
  return [...targets.values()];
}
