/**
 * What a webhook delivers, as the schema layer compiles it from the webhook's
 * subscription document (schema/subscriptions.ts implements it; the gateway
 * hands it to the webhook service and worker, which cannot import the schema
 * from below it).
 */
import type { EventFilter } from '../events/filter.js';
import type { Delivery } from '../events/hub.js';
import type { Channel } from '../hydra/channels.js';

/** A subscription document compiled for server-side delivery. */
export interface SubscriptionPlan {
  /** The root field, e.g. `buildFinished`. */
  field: string;
  /** The channels it reads from the journal ('gap' when it delivers gaps as events of their own). */
  channels: readonly (Channel | 'gap')[];
  filter: EventFilter | null;
  /** `buildFinished(consumer:)`: the consumer named in the document, if any. */
  consumer: string | null;
  /** The data the document selects for one delivery (unexpected errors masked). */
  render(delivery: Delivery): Promise<{ data: unknown; errors: readonly { message: string }[] }>;
}

/** Compiles a document with its variables; BAD_USER_INPUT when it is not one subscription of one field. */
export type CompileSubscription = (document: string, variables: Record<string, unknown>) => SubscriptionPlan;
