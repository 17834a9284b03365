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
 * skips the hooks after it. An execution the direct path hands to yoga to
 * answer is released there, and yoga's answer, with a context of its own,
 * releases that one. An execution that throws has no done hook: its context
 * waits for a full collection, as every context did before this module.
 */
import type { Plugin } from 'graphql-yoga';
import { releaseContext } from '../schema/builder.js';

/** The plugin; see the module contract. */
export function useContextRelease(): Plugin {
  return {
    onExecute: ({ args }) => ({ onExecuteDone: () => releaseContext(args.contextValue as object) }),
  };
}
