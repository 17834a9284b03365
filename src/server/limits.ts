/**
 * The limits on every document, whatever the transport: depth, cost,
 * aliases, directives and tokens, enforced by GraphQL Armor in the envelop
 * pipeline (parse and validate), before anything executes.
 *
 * Contract: a document over a limit is refused with LIMIT_EXCEEDED, the
 * message naming the limit and the variable that sets it (instead of Armor's
 * own "Syntax Error" without a code). The token limit applies while parsing,
 * so a huge document is refused before it is parsed whole. A deeply nested
 * one needs more: the parser recurses once per level and overflows its stack
 * at about 2,000 levels, which take only 4,000 tokens (`{ a { a …` or
 * `[[[…`), within the token limit; so before parsing, the lexer (which does
 * not recurse) measures how deeply braces, brackets and parentheses nest, and
 * a document nested deeper than `nestingLimit` is refused (HNG_MAX_DEPTH).
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { type GraphQLError, Lexer, Source, TokenKind } from 'graphql';
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

/**
 * How deeply a document may nest braces, brackets and parentheses: a document
 * within `maxDepth` nests about twice as deep at most (a field's arguments,
 * their objects and lists), and never more than 500 levels, far from what
 * overflows the parser's stack.
 */
export function nestingLimit(maxDepth: number): number {
  return Math.min(2 * maxDepth + 32, 500);
}

/** An envelop plugin, of the kind GraphQL Armor's is. */
type Plugin = ReturnType<typeof EnvelopArmorPlugin>;

const OPENING = new Set<string>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSING = new Set<string>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/**
 * How deeply `source` nests, read by the lexer for at most `maxTokens` tokens
 * and no further than just past `limit`; 0 when it does not lex (the parser
 * then says why).
 */
function nesting(source: string | Source, limit: number, maxTokens: number): number {
  const lexer = new Lexer(typeof source === 'string' ? new Source(source) : source);
  let depth = 0;
  let deepest = 0;
  try {
    let token = lexer.advance();
    for (let n = 0; token.kind !== TokenKind.EOF && n < maxTokens && deepest <= limit; n++, token = lexer.advance()) {
      if (OPENING.has(token.kind)) deepest = Math.max(deepest, ++depth);
      else if (CLOSING.has(token.kind)) depth--;
    }
  } catch {
    return 0;
  }
  return deepest;
}

/**
 * Refuses a document nested deeper than `nestingLimit(maxDepth)` before it is
 * parsed. The check wraps the parse function in force (Armor's, which counts
 * tokens), so it runs only when a document is parsed: one that yoga's parser
 * cache answers was measured when it was first parsed, and is not lexed again
 * on every request. A refusal is thrown from the parse, as Armor's are.
 */
function useNestingLimit(limits: DocumentLimits): Plugin {
  const limit = nestingLimit(limits.maxDepth);
  return {
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        if (nesting(source, limit, limits.maxTokens) > limit) {
          throw errors.limitExceeded(`document refused: nested more than ${limit} levels deep`, 'HNG_MAX_DEPTH');
        }
        return parseFn(source, options);
      });
    },
  };
}

/**
 * The envelop plugins enforcing `limits`: GraphQL Armor's, then the nesting,
 * whose parse wraps Armor's and so measures the nesting before Armor parses.
 */
export function useDocumentLimits(limits: DocumentLimits): Plugin {
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(armor(limits));
      addPlugin(useNestingLimit(limits));
    },
  };
}

function armor(limits: DocumentLimits) {
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
