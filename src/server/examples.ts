/**
 * The operations GraphiQL opens with, one tab each: the README's examples
 * ("Try it in GraphiQL"), in the README's order, each after a comment
 * saying what it does. test/graphiql.test.ts keeps them equal to the
 * README's `graphql` blocks (comments aside) and valid against the schema.
 */

/** One tab: a comment line or two, then the operation. */
export const EXAMPLE_OPERATIONS: readonly string[] = [
  `# Watch builds finish, with their rows. Run it (▶), then leave it running: every event stays below.
subscription WatchFinishedBuilds {
  buildFinished(filter: { project: "nixpkgs" }) {
    buildId
    pendingSince
    source
    build { job system buildStatus stopTime jobset { name project { name } } }
    dependentIds
  }
}
`,
  `# The backlog of finished builds nobody has acknowledged yet, oldest first.
query PendingBacklog {
  pendingBuildFinished(first: 5) {
    edges { pendingSince node { id job buildStatus } }
    pageInfo { hasNextPage endCursor }
  }
}
`,
  `# Acknowledge one, passing back the pendingSince you processed (copy both from a result).
# Needs a token with the ack scope: {"Authorization": "Bearer <token>"} in the headers below.
mutation AcknowledgeFinish {
  acknowledgeBuildFinished(buildId: 1, pendingSince: "2026-11-22T08:08:23Z") {
    outcome        # ACKNOWLEDGED, ALREADY_ACKNOWLEDGED, STALE or NOT_FINISHED
    pendingSince   # for STALE: the newer finish that is now pending
  }
}
`,
  `# A service that must not miss a finished build, even while it is down, makes a consumer once (admin token).
mutation CreateConsumer { createConsumer(name: "release-sync") { name createdAt } }
`,
  `# Then follows it: what finished while it was away first, then new finishes, each again until acknowledged.
subscription ConsumeFinishedBuilds {
  buildFinished(consumer: "release-sync") { buildId pendingSince deliveryCount build { job buildStatus } }
}
`,
  `# And acknowledges each for that consumer (ack token).
mutation AcknowledgeForConsumer {
  acknowledgeBuildFinished(consumer: "release-sync", buildId: 1, pendingSince: "2026-11-22T08:08:23Z") { outcome }
}
`,
];

/** An example without its leading comment lines: what the README shows. */
export function withoutComments(operation: string): string {
  return operation.replace(/^(#[^\n]*\n)+/, '');
}
