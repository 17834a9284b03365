/**
 * Static files a browser loads (the dashboard's, GraphiQL's), served from
 * memory, compressed as the request's `Accept-Encoding` allows and with cache
 * headers that fit how they are named.
 *
 * Contract:
 * - An asset is immutable once made. A hashed one (its name changes with its
 *   content) is cached by browsers for a year (`immutable`); a page (an HTML
 *   document at a fixed URL) is `no-cache`: revalidated every time with its
 *   ETag, answered 304 when unchanged, so a new build is seen on the next load.
 * - Encodings: brotli when accepted, else gzip, else the bytes as they are;
 *   `Vary: Accept-Encoding` always. Each encoding is computed once, on the
 *   first request that wants it, off the event loop (zlib's thread pool), and
 *   kept for the life of the process; a file too small to gain is sent as is.
 *   Brotli's best quality takes seconds on GraphiQL's megabytes, so large
 *   files get a faster quality (`quality`).
 * - `HEAD` gets the headers of `GET` without the body. Anything else is the
 *   caller's (http.ts routes only GET and HEAD here).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

/** How long a browser keeps a hashed asset: a year, never revalidated. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** A page at a fixed URL: kept, but revalidated (ETag) on every use. */
export const NO_CACHE = 'no-cache';

/** Below this many bytes compression gains too little to be worth a header. */
const MIN_COMPRESS_BYTES = 1024;

/** The content encodings the gateway produces, best first. */
export type Encoding = 'br' | 'gzip';

/**
 * Brotli's quality for a file of `bytes`: the best for the dashboard's small
 * files; for GraphiQL's megabytes a quality that takes tens of milliseconds
 * instead of seconds, for about 10 % more bytes (measured on yoga's bundle:
 * its 5 MB script takes 0.45 s at 7, 16 s at 11).
 */
export function quality(bytes: number): number {
  if (bytes <= 262_144) return constants.BROTLI_MAX_QUALITY;
  return bytes <= 2_097_152 ? 9 : 7;
}

/** The encoding to answer with, for an `Accept-Encoding` header (q=0 refuses one). */
export function negotiate(header: string | undefined): Encoding | null {
  const accepted = new Map<string, number>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    accepted.set(name, q === undefined ? 1 : Number(q));
  }
  const weight = (name: Encoding) => accepted.get(name) ?? accepted.get('*') ?? 0;
  if (weight('br') > 0) return 'br';
  if (weight('gzip') > 0) return 'gzip';
  return null;
}

/** One file to serve: its bytes, type and caching, and its encodings once computed. */
export class Asset {
  /** A strong validator: the content's hash. */
  readonly etag: string;
  private readonly encoded = new Map<Encoding, Promise<Buffer>>();

  constructor(
    readonly body: Buffer,
    readonly contentType: string,
    readonly cacheControl: string,
    /** Extra headers (a page's Content-Security-Policy). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    this.etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  }

  /** The bytes in `encoding` (computed once); null when the file is too small to compress. */
  async bytes(encoding: Encoding | null): Promise<Buffer | null> {
    if (encoding === null || this.body.length < MIN_COMPRESS_BYTES) return null;
    let pending = this.encoded.get(encoding);
    if (!pending) {
      pending =
        encoding === 'br'
          ? brotli(this.body, {
              params: {
                [constants.BROTLI_PARAM_QUALITY]: quality(this.body.length),
                [constants.BROTLI_PARAM_SIZE_HINT]: this.body.length,
                [constants.BROTLI_PARAM_MODE]: /^text\/|javascript|json|svg/.test(this.contentType)
                  ? constants.BROTLI_MODE_TEXT
                  : constants.BROTLI_MODE_GENERIC,
              },
            })
          : gzipped(this.body, { level: 9 });
      this.encoded.set(encoding, pending);
    }
    return pending;
  }
}

/**
 * Answers `req` with `asset` (with `status`, 200 unless told): 304 when the
 * browser's copy is current, else its bytes in the best accepted encoding.
 */
export async function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset, status = 200): Promise<void> {
  const headers: Record<string, string> = {
    'content-type': asset.contentType,
    'cache-control': asset.cacheControl,
    etag: asset.etag,
    vary: 'Accept-Encoding',
    'x-content-type-options': 'nosniff',
    ...asset.headers,
  };
  if (status === 200 && etagMatches(req.headers['if-none-match'], asset.etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  const encoding = negotiate(req.headers['accept-encoding']);
  const encoded = await asset.bytes(encoding);
  const body = encoded ?? asset.body;
  if (encoded && encoding) headers['content-encoding'] = encoding;
  headers['content-length'] = String(body.length);
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Whether an `If-None-Match` header names `etag` (or `*`). */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}

/** The Content-Type of a file, by its extension. */
export function contentTypeOf(path: string): string {
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  switch (extension) {
    case 'html':
      return 'text/html; charset=utf-8';
    case 'js':
    case 'mjs':
      return 'text/javascript; charset=utf-8';
    case 'css':
      return 'text/css; charset=utf-8';
    case 'svg':
      return 'image/svg+xml';
    case 'png':
      return 'image/png';
    case 'json':
      return 'application/json';
    case 'woff2':
      return 'font/woff2';
    default:
      return 'application/octet-stream';
  }
}
