/**
 * Ends a query's or a mutation's context when its execution is done: the
 * envelop plugin of every transport's pipeline (http.ts) that calls
 * `releaseContext` (schema/builder.ts), so that nothing long-lived still
 * refers to the context, its loaders and the rows they hold, and the young
 * generation's collector reclaims them with the request.
 *
 * Contract: only executions (queries and mutations, over HTTP, SSE or
 * WebSocket) are released, after their result exists; a subscription is
 * subscribed, not executed, and its context stays whole for as long as it
 * runs (its events execute outside this pipeline). Registered before any
 * plugin that may stop an execution with a result of its own, whose stop
 * skips the hooks after it. Releasing twice (the direct path's execution,
 * then yoga's answer of it) is harmless.
 */
import type { Plugin } from 'graphql-yoga';
import { releaseContext } from '../schema/builder.js';

/** The plugin; see the module contract. */
export function useContextRelease(): Plugin {
  return {
    onExecute: ({ args }) => ({ onExecuteDone: () => releaseContext(args.contextValue as object) }),
  };
}
