/**
 * Who may reach the gateway from where: allowed Host names (a guard against
 * DNS rebinding), allowed Origins (CORS for pages, and the WebSocket upgrade
 * check against cross-site WebSocket hijacking), and which request bodies may
 * carry operations (CSRF: only ones a browser must preflight).
 *
 * Contract: every function is pure; http.ts and ws.ts apply them before any
 * GraphQL runs. A page of another origin gets no CORS headers (so it cannot
 * read an answer) unless its origin is listed, and can never send a body a
 * browser sends without a preflight (form and text bodies are refused), so it
 * cannot run a mutation either. A request without an Origin (curl, a
 * service) is not a page's and passes the origin checks; the Host check and
 * the token apply to everyone.
 */
import { hostname } from 'node:os';

/** Where clients may come from and what the anonymous may do. */
export interface AccessPolicy {
  anonymous: 'none' | 'read';
  /** Exact origins (`https://dashboard.example.org`) whose pages may call the gateway. */
  corsOrigins: readonly string[];
  /** Host names (without port) the gateway answers to; `'*'`: any. */
  allowedHosts: readonly string[] | '*';
}

/** The default allowed hosts: loopback names, the bind address and this machine's name. */
export function defaultAllowedHosts(bindHost: string): string[] {
  const names = ['localhost', '127.0.0.1', '::1', hostname()];
  if (bindHost !== '0.0.0.0' && bindHost !== '::') names.push(bindHost);
  return [...new Set(names.map((n) => n.toLowerCase()))];
}

/** The host name of a Host header, lower-cased, without its port (`[::1]:4000` → `::1`). */
export function hostOf(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:]+))(?::\d+)?$/i.exec(header.trim());
  return match ? (match[1] ?? match[2]!).toLowerCase() : null;
}

/** Whether the gateway answers to this Host header. */
export function hostAllowed(policy: AccessPolicy, header: string | undefined): boolean {
  if (policy.allowedHosts === '*') return true;
  const host = hostOf(header);
  return host !== null && policy.allowedHosts.includes(host);
}

/** Whether a request carrying `origin` (a browser page's) may use the gateway: same origin as `host`, or listed. */
export function originAllowed(policy: AccessPolicy, origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (policy.corsOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Bodies a browser sends cross-origin without a preflight: they must never carry an operation. */
const SIMPLE_BODIES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/** Whether a POST's content type is one a page of any origin could send without a preflight. */
export function isSimpleBody(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  return type === '' || SIMPLE_BODIES.includes(type);
}
