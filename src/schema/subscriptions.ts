/**
 * Subscriptions delivered by the server itself (webhooks): a document and its
 * variables compiled once, against the gateway's schema, into what to read
 * from the journal (the root field's channels and filter) and how to render
 * one delivery into exactly the `data` a WebSocket subscriber of the same
 * document would receive.
 *
 * Contract: `compileSubscription` refuses (BAD_USER_INPUT, saying why) a
 * document that does not parse or validate, that is not a single subscription
 * operation of one root field, whose variables do not coerce, or that takes
 * `after` (a webhook reads from a position of its own). Rendering runs the
 * same resolvers as a subscriber's execution; an unexpected error is masked.
 */
import { execute, getArgumentValues, getOperationAST, getVariableValues, GraphQLError, Kind, parse, validate } from 'graphql';
import type { Principal } from '../auth/principal.js';
import { errors, maskUnexpected } from '../errors.js';
import type { EventFilter } from '../events/filter.js';
import type { CompileSubscription } from '../webhooks/plan.js';
import { type Context, releaseContext } from './builder.js';
import { SUBSCRIPTION_CHANNELS } from './events/common.js';
import { schema } from './index.js';

/** Compiles a webhook's subscription; see the module contract. */
export const compileSubscription: CompileSubscription = (text, variables) => {
  let document;
  try {
    document = parse(text);
  } catch (error) {
    throw errors.badInput(`the subscription does not parse: ${(error as Error).message}`);
  }
  // Without a name, getOperationAST finds nothing in a document of several operations.
  const operation = getOperationAST(document);
  if (operation?.operation !== 'subscription') throw errors.badInput('the document must hold exactly one subscription operation');
  const invalid = validate(schema, document);
  if (invalid.length > 0) throw errors.badInput(`the subscription is not valid: ${invalid.map((e) => e.message).join('; ')}`);
  const [root, ...more] = operation.selectionSet.selections;
  if (root?.kind !== Kind.FIELD || more.length > 0)
    throw errors.badInput('the subscription must select exactly one field, e.g. buildFinished');
  const channelsOf = SUBSCRIPTION_CHANNELS.get(root.name.value);
  if (!channelsOf) throw errors.badInput(`${root.name.value} is not an event subscription`);
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) throw errors.badInput(`the variables do not fit: ${coerced.errors.map((e) => e.message).join('; ')}`);
  const field = schema.getSubscriptionType()!.getFields()[root.name.value]!;
  const args = getArgumentValues(field, root, coerced.coerced);
  if (args.after !== undefined && args.after !== null)
    throw errors.badInput('a webhook reads from a position of its own: the subscription takes no after');
  const consumer = (args.consumer as string | undefined) ?? null;
  // The webhook reads what a token of the least scope it needs would: read, or acting for its consumer.
  const principal: Principal = {
    kind: 'token',
    tokenId: null,
    name: `webhook`,
    scope: consumer === null ? 'read' : 'ack',
    consumers: consumer === null ? null : [consumer],
    expiresAt: null,
    limitKey: 'webhook',
  };
  return {
    field: root.name.value,
    channels: channelsOf(args),
    filter: (args.filter as EventFilter | undefined) ?? null,
    consumer,
    async render(delivery) {
      // The resolvers under an event read the event's own loaders; the rest of a context they never need.
      const contextValue = { principal } as Context;
      let result;
      try {
        result = await execute({ schema, document, rootValue: delivery, contextValue, variableValues: variables });
      } finally {
        // One context per delivery: done with once executed (builder.ts's lifecycle).
        releaseContext(contextValue);
      }
      const masked = (result.errors ?? []).map((error) => maskUnexpected(error) as GraphQLError);
      return {
        data: result.data ?? null,
        errors: masked.map((e) => ({ message: e.message, ...(e.extensions?.code ? { code: e.extensions.code } : {}) })),
      };
    },
  };
};
