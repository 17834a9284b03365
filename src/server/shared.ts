/**
 * One execution per event for identical subscriptions: subscribers whose
 * operations are the same (document, operation, variables, and the scope that
 * decides what they may see) share one GraphQL execution of each event and
 * receive the same serialized bytes.
 *
 * Contract:
 * - `subscribe(args, fallback)` replaces a transport's subscribe for event
 *   subscriptions. The source stream is made for each subscriber as before
 *   (its subscribe resolver, authorization at subscribe time, its own hub
 *   queue with its filter applied before anything executes, its resumption,
 *   its slow-consumer ending); only the execution of an event's selection is
 *   shared. The first subscriber that needs an event executes it and
 *   serializes the result once, with its cursor in `extensions.cursor`; the
 *   others take that frame. Frames hang off the event object, so they live as
 *   long as the event does and never outlive it: an event replayed from the
 *   journal is another object, executed for its subscriber alone.
 * - What a subscriber sees is what per-subscriber execution gave: the
 *   resolvers under an event read the event's own loaders and never the
 *   context; a delivery that crossed a gap has a frame of its own (its
 *   `precededByGap` differs); errors and endings (SLOW_CONSUMER,
 *   ROW_LOAD_FAILED) are executed per subscriber, and every error is masked
 *   as the yoga pipeline masks it.
 * - Consumer subscriptions (`buildFinished(consumer:)`) are not shared: each
 *   delivery is a lease of its own; `share` returns null for them and the
 *   pipeline subscribes as usual. A subscribe that fails (a bad cursor)
 *   resolves its errors, masked as the yoga pipeline masks them.
 * - A shared subscription leaves the yoga pipeline at its subscribe (http.ts
 *   stops it there with the result of `share`): the pipeline's result hooks
 *   would only wrap each delivery in three more async iterators to find
 *   nothing to do (frames are masked, carry their cursor). It counts its
 *   deliveries itself (`count`, deliveries.ts), as its transport takes them.
 * - Results are `SharedResult` markers; the transports write `frame.json` as
 *   the payload (ws.ts splices it into the graphql-ws message, sse.ts into
 *   the `data:` line) instead of serializing the result again.
 */
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  getOperationAST,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  print,
  visit,
} from 'graphql';
import { maskError } from 'graphql-yoga';
import type { GatewayEvent } from '../events/event.js';
import type { Delivery } from '../events/hub.js';
import { encodeCursor } from '../journal/cursor.js';
import type { Log } from '../log.js';
import type { Context } from '../schema/builder.js';
import type { SubscriptionCount } from './deliveries.js';

/** An event's result, executed and serialized once for every subscriber of its operation. */
export interface Frame {
  /** The ExecutionResult as JSON (with `extensions.cursor`). */
  json: string;
  /** The event's cursor, for SSE's `id:`. */
  cursor: string | null;
  /** The marker every subscriber's transport receives for it (one object, not one each). */
  result?: SharedResult;
  /** What each subscriber notes for the delivery metrics, live and not (one object each, not one per delivery). */
  noted?: [live: DeliveredNote, replayed: DeliveredNote];
}

type DeliveredNote = NonNullable<Context['lastDelivered']>;

/** The key under which results carry their frame. */
export const FRAME: unique symbol = Symbol('hng.frame');

/** A result whose payload is a shared frame. */
export type SharedResult = ExecutionResult & { [FRAME]: Frame };

/** Whether `result` carries a shared frame. */
export function isShared(result: unknown): result is SharedResult {
  return typeof result === 'object' && result !== null && FRAME in result;
}

type Execute = (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult;

/** How many times variable `name` is used in `operation`. */
function usesOf(operation: OperationDefinitionNode, name: string): number {
  let uses = 0;
  visit(operation.selectionSet, { Variable: (node) => void (node.name.value === name && uses++) });
  return uses;
}

/** Shared executions; see the module contract. */
export class SharedSubscriptions {
  /** Each event's frames by variant: the execution under way, then the frame itself. */
  private readonly frames = new WeakMap<GatewayEvent, Map<string, Frame | Promise<Frame>>>();
  /** Each document's text, numbered: two parses of one text are one document. */
  private readonly documents = new WeakMap<DocumentNode, number>();
  private readonly texts = new Map<string, number>();
  /** Executions run, since start (what sharing saves shows against deliveries). */
  executions = 0;

  constructor(
    private readonly options: {
      execute: Execute;
      log: Log;
      /** Counts a shared subscription whose stream exists (deliveries.ts). */
      count?: (context: Context) => SubscriptionCount;
    },
  ) {}

  /**
   * The shared subscribe of an operation: its stream of shared results, or
   * the masked errors of a subscribe that failed; null when it must not be
   * shared (the caller subscribes as usual).
   */
  share(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> | null {
    const key = this.keyOf(args);
    return key === null ? null : this.subscribe(args, key);
  }

  private async subscribe(args: ExecutionArgs, key: string): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in (source as object))) return this.masked(source as ExecutionResult);
    return this.map(source as AsyncIterableIterator<Delivery>, key, args);
  }

  /** The sharing key of an operation, or null when it must not be shared. */
  private keyOf(args: ExecutionArgs): string | null {
    const operation = getOperationAST(args.document, args.operationName);
    if (operation?.operation !== 'subscription') return null;
    const [root] = operation.selectionSet.selections;
    if (operation.selectionSet.selections.length !== 1 || root?.kind !== Kind.FIELD) return null;
    // A consumer's deliveries are leases, one subscriber's each.
    if (root.arguments?.some((a) => a.name.value === 'consumer')) return null;
    let id = this.documents.get(args.document);
    if (id === undefined) {
      const text = args.document.loc?.source.body ?? print(args.document);
      id = this.texts.get(text);
      if (id === undefined) this.texts.set(text, (id = this.texts.size + 1));
      this.documents.set(args.document, id);
    }
    const scope = (args.contextValue as Context | undefined)?.principal?.scope ?? 'none';
    // `after` decides where a subscriber's stream starts, not what an event's result is: a
    // subscriber resuming mid-stream shares the live events with the others.
    const after = root.arguments?.find((a) => a.name.value === 'after')?.value;
    const variables = { ...args.variableValues };
    if (after?.kind === Kind.VARIABLE && usesOf(operation, after.name.value) === 1) delete variables[after.name.value];
    return `${id}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(variables)}\u0000${scope}`;
  }

  private map(source: AsyncIterableIterator<Delivery>, key: string, args: ExecutionArgs): AsyncIterableIterator<ExecutionResult> {
    const context = args.contextValue as Context;
    const count = this.options.count?.(context);
    // Methods, not arrow functions: each subscriber holds this object, and an arrow function
    // stored in a property is given its name at run time under tsx (esbuild's keepNames: the
    // command's `serve`, the tests), which costs a property store per function per subscriber;
    // the build that `npm start` runs (tsc) names nothing at run time, and methods cost it nothing.
    const owner = this;
    const iterator: AsyncIterableIterator<ExecutionResult> = {
      async next() {
        const next = await source.next();
        if (next.done) {
          count?.end();
          return { done: true, value: undefined };
        }
        const delivery = next.value;
        if (delivery.kind !== 'event') {
          const value = await owner.execute(args, delivery);
          count?.next();
          return { done: false, value };
        }
        // Executed by the first subscriber; the others take the frame without waiting a tick.
        const pending = owner.frameOf(delivery, key, args);
        const frame = pending instanceof Promise ? await pending : pending;
        // What `deliver` notes for the delivery metrics, noted for every subscriber (only the
        // first executed the event).
        const { event } = delivery;
        const noted = (frame.noted ??= [
          { channel: event.channel, receivedAt: event.receivedAt, live: !event.delivery },
          { channel: event.channel, receivedAt: event.receivedAt, live: false },
        ]);
        context.lastDelivered = noted[delivery.replayed ? 1 : 0];
        count?.next();
        return { done: false, value: (frame.result ??= { [FRAME]: frame } as SharedResult) };
      },
      async return() {
        count?.end();
        await source.return?.();
        return { done: true, value: undefined };
      },
      async throw(error) {
        count?.end();
        await source.return?.();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  private frameOf(delivery: Extract<Delivery, { kind: 'event' }>, key: string, args: ExecutionArgs): Frame | Promise<Frame> {
    const { event, gapBefore } = delivery;
    const variant = gapBefore ? `${key}\u0000${gapBefore.from.getTime()}-${gapBefore.to.getTime()}` : key;
    let byKey = this.frames.get(event);
    if (!byKey) this.frames.set(event, (byKey = new Map()));
    let frame = byKey.get(variant);
    if (!frame) {
      const cursor = event.position > 0 ? encodeCursor(event.position) : null;
      const executing = this.execute(args, delivery).then((result) => {
        const done: Frame = { json: JSON.stringify(cursor ? { ...result, extensions: { ...result.extensions, cursor } } : result), cursor };
        byKey.set(variant, done);
        return done;
      });
      byKey.set(variant, executing);
      frame = executing;
    }
    return frame;
  }

  /** Executes the operation for one delivery, masking unexpected errors as the yoga pipeline does. */
  private async execute(args: ExecutionArgs, delivery: Delivery): Promise<ExecutionResult> {
    this.executions++;
    return this.masked(await this.options.execute({ ...args, rootValue: delivery }), true);
  }

  /** `result` with its errors masked as the yoga pipeline masks them; unexpected ones logged when `log`. */
  private masked(result: ExecutionResult, log = false): ExecutionResult {
    if (!result.errors?.length) return result;
    return {
      ...result,
      errors: result.errors.map((error) => {
        const masked = maskError(error, 'Unexpected error.', false) as GraphQLError;
        if (log && masked !== error && masked.message === 'Unexpected error.') {
          this.options.log.error('a subscription event failed to execute', { error: error.message });
        }
        return masked;
      }),
    };
  }
}
