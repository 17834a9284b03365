/**
 * Reading a request's body, for the paths that answer before yoga does
 * (requests.ts, streams.ts).
 *
 * Contract: `readBody` resolves with the whole body as UTF-8 once the
 * request ends, and rejects if the request errors (a client that went away).
 * `serve` has already refused a POST without `Content-Length` or over the
 * body limit, and Node's parser never reads past that length, so the body is
 * bounded. `leaveForYoga` puts the text where whatwg-node reads a Node
 * request's body when its stream was consumed: a request handed to yoga
 * after all is parsed from it.
 */
import type { IncomingMessage } from 'node:http';

/** The whole body of `req`, as UTF-8. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/** Leaves `body`, already read, for yoga to parse (see the module contract). */
export function leaveForYoga(req: IncomingMessage, body: string): void {
  (req as IncomingMessage & { body?: string }).body = body;
}
