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
 * - `admit` is the pushed form, for a transport that writes frames itself
 *   (ws.ts outside graphql-ws's per-operation loop, streams.ts outside
 *   yoga's SSE stream): it checks the operation as the pipeline would
 *   (parse, validate) and whether it is shared; then the same stream, the
 *   same frames, but written to a `Sink` by one small object per subscriber
 *   (`Pushed`) instead of pulled through an iterator and a pipeline. It ends
 *   with `sink.complete()` when the stream ends by itself, with `sink.fail`
 *   when the stream throws, and with nothing when `return()` stopped it (the
 *   client asked, or the socket closed).
 * - A shared subscription keeps only what its executions read, whichever
 *   form: the document, operation, variables and schema, and a context of
 *   its principal and transport (`lean`); the request's full context (its
 *   loaders, the yoga request, the envelop state) served the subscribe and
 *   is let go.
 */
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  getOperationAST,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  print,
  visit,
} from 'graphql';
import { maskUnexpected } from '../errors.js';
import type { GatewayEvent } from '../events/event.js';
import type { Delivery, SubscriberStream, Waiter } from '../events/hub.js';
import { encodeCursor } from '../journal/cursor.js';
import type { Log } from '../log.js';
import type { Principal } from '../auth/principal.js';
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

/** Whether `join` gave a subscription (rather than the errors of a subscribe that failed). */
export function isJoined(value: Joined | ExecutionResult): value is Joined {
  return 'start' in value;
}

/** An operation's parameters as a client sends them: a graphql-ws subscribe payload, an SSE request's body or query string. */
export interface OperationParams {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `value` as an operation's parameters, checked as graphql-ws checks a
 * subscribe payload, or null when it is not one (the transport's own
 * pipeline then answers it).
 */
export function operationParams(value: unknown): OperationParams | null {
  if (!isObject(value) || typeof value.query !== 'string') return null;
  if (value.variables != null && !isObject(value.variables)) return null;
  if (value.operationName != null && typeof value.operationName !== 'string') return null;
  if (value.extensions != null && !isObject(value.extensions)) return null;
  return value as unknown as OperationParams;
}

/** What `admit` needs of an operation's pipeline (yoga's `getEnveloped`). */
export interface EnvelopedOperation {
  schema: GraphQLSchema;
  parse(source: string): DocumentNode;
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[];
  contextFactory(): unknown;
}

/** An operation admitted to be pushed (see `admit`): `open` subscribes it, writing to `sink`. */
export interface Admitted {
  open(sink: Sink): Promise<Joined | ExecutionResult>;
}

/** Where `join` writes a subscriber's results: the transport's side of a pushed subscription. */
export interface Sink {
  /** Writes one result, serialized, with its event's cursor (none for an ending); a promise when the transport must wait for it to be taken. */
  next(json: string, cursor: string | null): void | Promise<void>;
  /** The stream ended by itself (an ending delivery, a shutdown): the client is told. */
  complete(): void;
  /** The stream failed: the client is told. */
  fail(error: Error): void;
}

/** A pushed subscription (see `join`): `start()` once it is registered; `return()` stops it without telling the client. */
export interface Joined extends AsyncIterable<never> {
  start(): void;
  return(): Promise<IteratorResult<never>>;
}

type Execute = (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult;

/** How many times variable `name` is used in `operation`. */
function usesOf(operation: OperationDefinitionNode, name: string): number {
  let uses = 0;
  visit(operation.selectionSet, { Variable: (node) => void (node.name.value === name && uses++) });
  return uses;
}

/** The marker of an executed frame, with what its subscribers note for the delivery metrics, made once each. */
function taken(frame: Frame): SharedResult {
  return (frame.result ??= { [FRAME]: frame } as SharedResult);
}

/** What a subscriber notes for the delivery metrics of `result`, delivered for `delivery`: nothing for an ending. */
function noteOf(delivery: Delivery, result: ExecutionResult | SharedResult): DeliveredNote | undefined {
  if (delivery.kind !== 'event' || !isShared(result)) return undefined;
  const frame = result[FRAME];
  const { event } = delivery;
  const noted = (frame.noted ??= [
    { channel: event.channel, receivedAt: event.receivedAt, live: !event.delivery },
    { channel: event.channel, receivedAt: event.receivedAt, live: false },
  ]);
  return noted[delivery.replayed ? 1 : 0];
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
    const key = this.keyOf(args.document, args.operationName, args.variableValues, (args.contextValue as Context | undefined)?.principal);
    return key === null ? null : this.subscribe(args, key);
  }

  /**
   * The pushed form of an operation: null when it is not shared, does not
   * parse or does not validate (the transport's own pipeline then answers it
   * as before); else how to open it. `open` makes the operation's context and
   * subscribes; once its stream exists and `start()` is called, its results
   * are written to the sink until it ends or `return()` stops it. A subscribe
   * that fails gives its masked errors, written nowhere.
   */
  admit(enveloped: EnvelopedOperation, params: OperationParams, principal: Principal | undefined): Admitted | null {
    let document: DocumentNode;
    try {
      document = enveloped.parse(params.query);
    } catch {
      return null;
    }
    const key = this.keyOf(document, params.operationName, params.variables, principal);
    if (key === null || enveloped.validate(enveloped.schema, document).length > 0) return null;
    return {
      open: async (sink) =>
        this.join(
          {
            schema: enveloped.schema,
            document,
            operationName: params.operationName,
            variableValues: params.variables,
            contextValue: await enveloped.contextFactory(),
          },
          key,
          sink,
        ),
    };
  }

  private async join(args: ExecutionArgs, key: string, sink: Sink): Promise<Joined | ExecutionResult> {
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in (source as object))) return this.masked(source as ExecutionResult);
    const count = this.options.count?.(args.contextValue as Context);
    return new Pushed(this, source as Source, key, this.lean(args), sink, count);
  }

  private async subscribe(args: ExecutionArgs, key: string): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in (source as object))) return this.masked(source as ExecutionResult);
    const count = this.options.count?.(args.contextValue as Context);
    return this.map(source as AsyncIterableIterator<Delivery>, key, this.lean(args), count);
  }

  /** What a shared subscription keeps of its operation (see the module contract). */
  private lean(args: ExecutionArgs): ExecutionArgs {
    const { principal, transport } = args.contextValue as Context;
    const contextValue = { principal, transport } as Context;
    return {
      schema: args.schema,
      document: args.document,
      operationName: args.operationName,
      variableValues: args.variableValues,
      contextValue,
    };
  }

  /**
   * The sharing key of an operation (its document, operation, variables but
   * `after`, and the scope of `principal`), or null when it must not be
   * shared: not one event subscription field, or a consumer's.
   */
  private keyOf(
    document: DocumentNode,
    operationName: string | null | undefined,
    variableValues: Record<string, unknown> | null | undefined,
    principal: Principal | undefined,
  ): string | null {
    const operation = getOperationAST(document, operationName);
    if (operation?.operation !== 'subscription') return null;
    const [root] = operation.selectionSet.selections;
    if (operation.selectionSet.selections.length !== 1 || root?.kind !== Kind.FIELD) return null;
    // A consumer's deliveries are leases, one subscriber's each.
    if (root.arguments?.some((a) => a.name.value === 'consumer')) return null;
    let id = this.documents.get(document);
    if (id === undefined) {
      const text = document.loc?.source.body ?? print(document);
      id = this.texts.get(text);
      if (id === undefined) this.texts.set(text, (id = this.texts.size + 1));
      this.documents.set(document, id);
    }
    const scope = principal?.scope ?? 'none';
    // `after` decides where a subscriber's stream starts, not what an event's result is: a
    // subscriber resuming mid-stream shares the live events with the others.
    const after = root.arguments?.find((a) => a.name.value === 'after')?.value;
    const variables = { ...variableValues };
    if (after?.kind === Kind.VARIABLE && usesOf(operation, after.name.value) === 1) delete variables[after.name.value];
    return `${id}\u0000${operationName ?? ''}\u0000${JSON.stringify(variables)}\u0000${scope}`;
  }

  private map(
    source: AsyncIterableIterator<Delivery>,
    key: string,
    args: ExecutionArgs,
    count?: SubscriptionCount,
  ): AsyncIterableIterator<ExecutionResult> {
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
        const pending = owner.resultOf(next.value, key, args);
        const value = pending instanceof Promise ? await pending : pending;
        count?.next(noteOf(next.value, value));
        return { done: false, value };
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

  /**
   * A delivery's result for one subscriber: its event's shared frame (executed
   * by the first subscriber that needs it, taken by the others without waiting
   * a tick), or its own ending (SLOW_CONSUMER, ROW_LOAD_FAILED), executed for
   * it alone. For `map` and `Pushed`, this module's two forms.
   * @internal
   */
  resultOf(delivery: Delivery, key: string, args: ExecutionArgs): SharedResult | Promise<ExecutionResult | SharedResult> {
    if (delivery.kind !== 'event') return this.execute(args, delivery);
    const pending = this.frameOf(delivery, key, args);
    return pending instanceof Promise ? pending.then(taken) : taken(pending);
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
        const masked = maskUnexpected(error) as GraphQLError;
        if (log && masked !== error && masked.message === 'Unexpected error.') {
          this.options.log.error('a subscription event failed to execute', { error: error.message });
        }
        return masked;
      }),
    };
  }
}

/** A hub subscriber's stream, read by `poll` where it can be (events/hub.ts); a resumed one is read by `next`. */
type Source = AsyncIterableIterator<Delivery> & Partial<Pick<SubscriberStream, 'poll'>>;

/**
 * One subscriber of `join`: reads its stream and writes each result to its
 * sink, one at a time, waiting when the sink asks to. A class, and woken by
 * the hub rather than waiting on it (`poll`), so that an idle subscriber is
 * this one object: no suspended function, no promise.
 */
class Pushed implements Joined, Waiter {
  private stopped = false;
  private draining = false;
  /** A wake that came while it was draining: it polls again. */
  private woken = false;

  constructor(
    private readonly owner: SharedSubscriptions,
    private readonly source: Source,
    private readonly key: string,
    private readonly args: ExecutionArgs,
    private readonly sink: Sink,
    private readonly count: SubscriptionCount | undefined,
  ) {}

  start(): void {
    void this.drain();
  }

  /** The hub's wake: something is queued for it. */
  wake(): void {
    if (this.stopped) return;
    if (this.draining) this.woken = true;
    else void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (;;) {
        this.woken = false;
        const polled = this.source.poll ? this.source.poll(this) : this.source.next();
        const next = polled instanceof Promise ? await polled : polled;
        if (this.stopped) return;
        if (next === null) {
          if (this.woken) continue;
          return;
        }
        if (next.done) {
          this.stop();
          return this.sink.complete();
        }
        const pending = this.owner.resultOf(next.value, this.key, this.args);
        const result = pending instanceof Promise ? await pending : pending;
        if (this.stopped) return;
        this.count?.next(noteOf(next.value, result));
        const written = isShared(result)
          ? this.sink.next(result[FRAME].json, result[FRAME].cursor)
          : this.sink.next(JSON.stringify(result), null);
        if (written) await written;
      }
    } catch (error) {
      if (this.stopped) return;
      this.stop();
      await this.source.return?.();
      this.sink.fail(error as Error);
    } finally {
      this.draining = false;
    }
  }

  async return(): Promise<IteratorResult<never>> {
    if (!this.stopped) {
      this.stop();
      await this.source.return?.();
    }
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): AsyncIterator<never> {
    return this as unknown as AsyncIterator<never>;
  }

  private stop(): void {
    this.stopped = true;
    this.count?.end();
  }
}
