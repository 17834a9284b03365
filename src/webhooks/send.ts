/**
 * One attempt of one delivery: an HTTP POST with a deadline, and what came
 * back, read into what the delivery log keeps (status, latency, error, the
 * first 4 KiB of the body) and what the endpoint asked (a delay).
 *
 * Contract: never throws. A connection refused, a DNS failure, a reset or a
 * timeout is an attempt without a status, with the error's words; any status
 * is an attempt with it. Redirects are not followed (a webhook URL is
 * configured exactly).
 */
import { askedDelay } from './schedule.js';

/** What one attempt found. */
export interface Attempt {
  status: number | null;
  latencyMs: number;
  error: string | null;
  responseBody: string | null;
  /** What the endpoint asked to wait before the next attempt, in ms. */
  askedDelayMs: number | null;
}

/** The longest response body kept in the log. */
const BODY_LIMIT = 4_096;

/** POSTs `body` to `url` with `headers`, within `timeoutMs`. */
export async function send(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<Attempt> {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'hydra-notify-gateway', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text().catch(() => '');
    return {
      status: response.status,
      latencyMs: Math.round(performance.now() - started),
      error: response.ok ? null : `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
      responseBody: text.slice(0, BODY_LIMIT) || null,
      askedDelayMs: askedDelay(response.headers),
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const timedOut = (error as Error).name === 'TimeoutError';
    return {
      status: null,
      latencyMs: Math.round(performance.now() - started),
      error: timedOut
        ? `no answer within ${timeoutMs} ms`
        : [cause?.code, cause?.message ?? (error as Error).message].filter(Boolean).join(': '),
      responseBody: null,
      askedDelayMs: null,
    };
  }
}
