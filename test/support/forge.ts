/**
 * A forge's commit-status API for tests, as GitHub documents it ("Create a
 * commit status", REST API 2022-11-28) and Gitea mirrors it under /api/v1:
 * `POST {base}/repos/{owner}/{repo}/statuses/{sha}` with a JSON body
 * (`state` one of error, failure, pending, success; optional `target_url`,
 * `description`, `context`, default "default"), answered 201 with the status;
 * 401 `Bad credentials` for another Authorization; 404 `Not Found` for a
 * repository it does not hold; 422 `Validation Failed` for a bad state or a
 * commit the repository does not have; and, when told to, 403 with
 * `Retry-After` and `X-RateLimit-Remaining: 0` as GitHub rate-limits.
 * `GET …/commits/{sha}/statuses` lists a commit's statuses, newest first.
 *
 * Lifecycle: `startForge()` listens on loopback; closed after the file.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from './clients.js';
import { onCleanup } from './gateway.js';

/** A status as the forge keeps it. */
export interface Status {
  id: number;
  state: string;
  target_url: string | null;
  description: string | null;
  context: string;
  created_at: string;
}

/** A request the forge answered. */
export interface ForgeRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  status: number;
  at: number;
}

/** A running forge. */
export interface Forge {
  /** The API base URL (GitHub's https://api.github.com stand-in). */
  url: string;
  requests: ForgeRequest[];
  /** The statuses of a commit, oldest first. */
  statuses(repository: string, sha: string): Status[];
  /** Answers the next `n` status requests with 403, asking to wait `retryAfterSeconds`. */
  rateLimitNext(n: number, retryAfterSeconds: number): void;
  /** Waits until `repository@sha` has `n` statuses. */
  waitStatuses(repository: string, sha: string, n: number, timeoutMs?: number): Promise<Status[]>;
}

/** Starts a forge holding `repositories` (`owner/repo` → its commits) that accepts `authorization`. */
export async function startForge(options: {
  authorization: string;
  repositories: Record<string, string[]>;
  prefix?: string;
}): Promise<Forge> {
  const stored = new Map<string, Status[]>();
  let limited = 0;
  let retryAfter = 1;
  let ids = 0;
  const prefix = options.prefix ?? '';
  const forge: Forge = {
    url: '',
    requests: [],
    statuses: (repository, sha) => stored.get(`${repository}@${sha}`) ?? [],
    rateLimitNext(n, seconds) {
      limited = n;
      retryAfter = seconds;
    },
    async waitStatuses(repository, sha, n, timeoutMs = 15_000) {
      await until(() => forge.statuses(repository, sha).length >= n, timeoutMs, `${n} statuses on ${repository}@${sha}`);
      return forge.statuses(repository, sha);
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = undefined;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const reply = (status: number, payload: unknown, extra: Record<string, string> = {}) => {
        forge.requests.push({ method: req.method ?? '', path: req.url ?? '', headers, body, status, at: Date.now() });
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...extra });
        res.end(JSON.stringify(payload));
      };
      const path = (req.url ?? '').slice(prefix.length);
      const post = /^\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(path);
      const list = /^\/repos\/([^/]+)\/([^/]+)\/commits\/([0-9a-f]{40})\/statuses$/.exec(path);
      if (headers.authorization !== options.authorization)
        return reply(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      const match = post ?? list;
      if (!match) return reply(404, { message: 'Not Found' });
      const [, owner, repo, sha] = match as unknown as [string, string, string, string];
      const repository = `${decodeURIComponent(owner)}/${decodeURIComponent(repo)}`;
      const commits = options.repositories[repository];
      if (!commits) return reply(404, { message: 'Not Found' });
      if (list && req.method === 'GET') return reply(200, [...forge.statuses(repository, sha)].reverse());
      if (req.method !== 'POST') return reply(404, { message: 'Not Found' });
      if (limited > 0) {
        limited -= 1;
        return reply(
          403,
          { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' },
          {
            'retry-after': String(retryAfter),
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + retryAfter),
          },
        );
      }
      const input = body as Partial<Status> | undefined | null;
      if (!input || !['error', 'failure', 'pending', 'success'].includes(String(input.state))) {
        return reply(422, { message: 'Validation Failed', errors: [{ resource: 'Status', field: 'state', code: 'custom' }] });
      }
      if (!commits.includes(sha)) return reply(422, { message: `No commit found for SHA: ${sha}` });
      const status: Status = {
        id: ++ids,
        state: String(input.state),
        target_url: input.target_url ?? null,
        description: input.description ?? null,
        context: input.context ?? 'default',
        created_at: new Date().toISOString(),
      };
      const key = `${repository}@${sha}`;
      stored.set(key, [...(stored.get(key) ?? []), status]);
      reply(201, { url: `${forge.url}/repos/${repository}/statuses/${sha}`, ...status, creator: { login: 'hydra-bot' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  forge.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return forge;
}
