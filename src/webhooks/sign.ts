/**
 * Signing per the Standard Webhooks specification, with its reference
 * library (`standardwebhooks`): the `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` headers, one `v1,<signature>` per secret, space
 * separated, so a receiver rotating its secret verifies with either.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A new secret in the specification's format (`whsec_` and 24 random bytes in base64). */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Whether `secret` is one the library can sign with. */
export function isSecret(secret: string): boolean {
  try {
    new Webhook(secret);
    return /^whsec_[A-Za-z0-9+/=]{16,}$/.test(secret);
  } catch {
    return false;
  }
}

/** The signature headers of `body`, sent as message `msgId` at `at`, signed with every secret. */
export function signatureHeaders(secrets: readonly string[], msgId: string, at: Date, body: string): Record<string, string> {
  const signature = secrets.map((secret) => new Webhook(secret).sign(msgId, at, body)).join(' ');
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1_000)),
    'webhook-signature': signature,
  };
}
