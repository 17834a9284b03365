/**
 * The limits on every document, whatever the transport: depth, cost,
 * aliases, directives and tokens, enforced by GraphQL Armor in the envelop
 * pipeline (parse and validate), before anything executes.
 *
 * Contract: a document over a limit is refused with LIMIT_EXCEEDED, the
 * message naming the limit and the variable that sets it (instead of Armor's
 * own "Syntax Error" without a code). The token limit applies while parsing,
 * so a huge or deeply nested document is refused before the parser recurses
 * into it (2,000 levels would otherwise overflow the stack).
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError } from 'graphql';
import { errors } from '../errors.js';

/** The document limits. */
export interface DocumentLimits {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
}

/** A rejection handler that throws our error in place of Armor's. */
function refuse(setting: string) {
  return [
    (_context: unknown, error: GraphQLError) => {
      throw errors.limitExceeded(`document refused: ${error.message.replace(/^Syntax Error: /, '')}`, setting);
    },
  ];
}

/** The envelop plugin enforcing `limits`. */
export function useDocumentLimits(limits: DocumentLimits) {
  return EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, onReject: refuse('HNG_MAX_DEPTH') },
    costLimit: { maxCost: limits.maxCost, onReject: refuse('HNG_MAX_COST') },
    maxAliases: { n: limits.maxAliases, onReject: refuse('HNG_MAX_ALIASES') },
    maxDirectives: { n: limits.maxDirectives, onReject: refuse('HNG_MAX_DIRECTIVES') },
    maxTokens: { n: limits.maxTokens, onReject: refuse('HNG_MAX_TOKENS') },
    // Field suggestions ("did you mean …") help people in GraphiQL; the schema is public anyway.
    blockFieldSuggestion: { enabled: false },
  });
}
