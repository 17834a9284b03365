/**
 * Queries and mutations over HTTP POST answered straight from the Node
 * request: the envelop pipeline of the one yoga instance (its limits, its
 * parse and validation caches, the context, masking, the schema's
 * authorization), without yoga's fetch `Request` and `Response`, its web
 * streams and its request-level plugins, which cost a small request (a page,
 * an acknowledgement) more than its execution.
 *
 * Contract:
 * - `serve` is asked for every authenticated `POST` to `/graphql` that does
 *   not ask for an event stream (http.ts's `serve` has checked Host, CSRF,
 *   the body's length and the token before). It takes one whose body is at
 *   most `DIRECT_MAX_BODY` bytes of JSON of the kind yoga parses
 *   (`Content-Type: application/json`, UTF-8), whose `Accept` yoga answers
 *   with its regular JSON result (the same choice of
 *   `application/graphql-response+json` or `application/json`, by the same
 *   rules), whose parameters are an operation's (shared.ts's
 *   `operationParams`), and whose document parses and validates as a query
 *   or a mutation. Anything else goes to yoga untouched (the body read here
 *   is left for it): batches, GET, other media types, documents that fail to
 *   parse or validate, subscriptions.
 * - It executes as yoga's `processRequest` does (the same `getEnveloped`
 *   parse, validate, context and execute). A result with data and nothing
 *   else is written here: 200, the media type chosen and `charset=utf-8`, the
 *   CORS headers of a listed origin, the JSON of the result (what yoga writes
 *   for it, byte for byte). A result with errors or extensions, or an
 *   execution that threw, is handed to yoga with that outcome
 *   (`precomputed`), which answers it as it always has (status codes,
 *   `extensions.http`, masking): nothing runs twice, a mutation included.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DocumentNode, type ExecutionResult, getOperationAST } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import { leaveForYoga, readBody } from './body.js';
import { type OperationParams, operationParams } from './shared.js';
import { ResponseTransport } from './streams.js';

/**
 * Largest body taken here, bytes. The direct path is for small requests (a page, an
 * acknowledgement), whose cost is mostly the pipeline's fixed part; a larger body goes to yoga
 * unread: read and parsed here, then again by yoga when refused, a hostile document of hundreds
 * of kilobytes cost twice (the fault suite's alias bomb slowed a subscriber past its bound).
 */
export const DIRECT_MAX_BODY = 16 * 1024;

/** Refused documents remembered at most (see `DirectRequests.refused`). */
const REFUSED_KEPT = 1_000;

/** What an execution taken here ended with, when yoga is to answer it: its result, or what it threw. */
export type Precomputed = { result: ExecutionResult } | { thrown: unknown };

/** What the direct path needs. */
export interface RequestsOptions {
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
  /** The CORS headers of a response to `origin` (none for an origin not listed). */
  corsHeaders: (origin: string | undefined) => Record<string, string>;
  /** Hands the request to yoga, with the outcome of an execution taken here if there was one. */
  toYoga: (req: IncomingMessage, res: ServerResponse, principal: Principal, precomputed: Precomputed | null) => Promise<void>;
}

/**
 * What yoga's envelop plugins read of the request: its method. Yoga's parse
 * cache keeps a document's parse error, and yoga marks that error (400,
 * GRAPHQL_PARSE_FAILED) only when the context holds a request: a parse here
 * without one would leave the cached error unmarked for yoga's own answer.
 */
const POST_REQUEST = { method: 'POST' };

/** The media types of yoga's regular result, in its order. */
const REGULAR = ['application/graphql-response+json', 'application/json'] as const;

function matching(processor: string, asked: string): boolean {
  const [pre, suf] = processor.split('/');
  const [askedPre, askedSuf] = asked.split('/');
  return (askedPre === '*' || askedPre === pre) && (askedSuf === '*' || askedSuf === suf);
}

/**
 * The media type yoga answers a query or mutation with for `accept`, or null
 * when it would not answer with a regular JSON result. Yoga reads the header's
 * UTF-8 media types last first and keeps its last match, so the first type
 * listed wins, and `*` /`*` is `application/json`.
 */
export function regularMediaType(accept: string | undefined): (typeof REGULAR)[number] | null {
  const asked: string[] = [];
  for (const entry of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [type, ...params] = entry.split(';');
    const charset = params.find((p) => p.includes('charset=')) ?? 'charset=utf-8';
    if (type !== undefined && charset === 'charset=utf-8') asked.push(type);
  }
  let chosen: (typeof REGULAR)[number] | null = null;
  for (const type of asked.reverse()) for (const processor of REGULAR) if (matching(processor, type)) chosen = processor;
  return chosen;
}

/** Whether `contentType` is a JSON body yoga would parse as such, in UTF-8. */
function isJsonBody(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const [type, ...params] = contentType.replace(/\s/g, '').toLowerCase().split(';');
  if (type !== 'application/json') return false;
  const charset = params.find((p) => p.startsWith('charset='));
  return charset === undefined || charset === 'charset=utf-8';
}

/** POSTed queries and mutations, answered without yoga's request pipeline; see the module contract. */
export class DirectRequests {
  /** Requests answered here (the others went to yoga), since start. */
  answered = 0;
  /**
   * Documents that failed to parse or validate here, which go straight to yoga from then on:
   * a refusal (a limit Armor throws from the validation, which no cache keeps) would otherwise be
   * checked twice on every request, here and by yoga, and a hostile client resending one document
   * would cost twice what it did. At most `REFUSED_KEPT`, forgotten all at once past that.
   */
  private readonly refused = new Set<string>();

  constructor(private readonly options: RequestsOptions) {}

  /** Answers `req` here or through yoga; see the module contract. */
  async serve(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const small = Number(req.headers['content-length']) <= DIRECT_MAX_BODY;
    const type = small && req.url === '/graphql' && isJsonBody(req.headers['content-type']) ? regularMediaType(req.headers.accept) : null;
    if (type === null) return this.options.toYoga(req, res, principal, null);
    const body = await readBody(req).catch(() => null);
    // The client went away before its body was whole: nobody is left to answer.
    if (body === null) return void res.destroy();
    leaveForYoga(req, body);
    let params: OperationParams | null;
    try {
      params = operationParams(JSON.parse(body));
    } catch {
      params = null;
    }
    if (!params || this.refused.has(params.query)) return this.options.toYoga(req, res, principal, null);

    const transport = new ResponseTransport(res, false);
    const enveloped = this.options.yoga.getEnveloped({ principal, transport, resumeAfter: null, params, request: POST_REQUEST });
    // A refusal (a syntax error, a limit, which Armor throws from the parse or the validation) is
    // yoga's to answer: it parses and validates again, from its caches, and answers as it always has.
    let document: DocumentNode;
    try {
      document = enveloped.parse(params.query);
      const operation = getOperationAST(document, params.operationName);
      if (!operation || operation.operation === 'subscription') return this.options.toYoga(req, res, principal, null);
      if (enveloped.validate(enveloped.schema, document).length > 0) return this.refuse(params.query, req, res, principal);
    } catch {
      return this.refuse(params.query, req, res, principal);
    }
    let result: ExecutionResult;
    try {
      const contextValue = await enveloped.contextFactory();
      result = (await enveloped.execute({
        schema: enveloped.schema,
        document,
        contextValue,
        variableValues: params.variables,
        operationName: params.operationName,
      })) as ExecutionResult;
    } catch (thrown) {
      return this.options.toYoga(req, res, principal, { thrown });
    }
    if (result.errors !== undefined || result.extensions !== undefined) return this.options.toYoga(req, res, principal, { result });
    const json = JSON.stringify(result);
    this.answered++;
    res
      .writeHead(200, {
        'content-type': `${type}; charset=utf-8`,
        'content-length': Buffer.byteLength(json),
        ...this.options.corsHeaders(req.headers.origin),
      })
      .end(json);
  }

  private refuse(query: string, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    if (this.refused.size >= REFUSED_KEPT) this.refused.clear();
    this.refused.add(query);
    return this.options.toYoga(req, res, principal, null);
  }
}
