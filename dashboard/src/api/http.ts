/**
 * Queries and mutations over HTTP POST to `/graphql`, with the saved token.
 *
 * Contract: one request per call, `application/json` (the gateway refuses
 * bodies a form could send). A result with errors rejects with an
 * `ApiError` carrying the first error's `extensions.code` (UNAUTHENTICATED,
 * FORBIDDEN, CURSOR_EXPIRED, …) and message, so a view can say what to do;
 * a network failure rejects with code `NETWORK`.
 */
import type { TypedDocumentString } from './generated';
import { savedToken } from './token';

/** The GraphQL endpoint, on this page's origin. */
export const ENDPOINT = '/graphql';

/** A failed operation: its code (`extensions.code`, or NETWORK/HTTP_<status>) and message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Response<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Runs `document` with `variables`; resolves its data or rejects with an ApiError. */
export async function run<T, V>(document: TypedDocumentString<T, V>, variables: V): Promise<T> {
  const token = savedToken();
  let response: globalThis.Response;
  try {
    response = await fetch(ENDPOINT, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
  } catch (error) {
    throw new ApiError('NETWORK', `the gateway did not answer (${error instanceof Error ? error.message : String(error)})`);
  }
  let body: Response<T>;
  try {
    body = (await response.json()) as Response<T>;
  } catch {
    throw new ApiError(`HTTP_${response.status}`, `the gateway answered ${response.status} ${response.statusText}`);
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.extensions?.code ?? 'ERROR', first.message);
  if (!body.data) throw new ApiError(`HTTP_${response.status}`, `the gateway answered ${response.status} without data`);
  return body.data;
}
