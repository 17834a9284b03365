/**
 * Consumer names: lower-case words of 1 to 63 characters
 * (`^[a-z0-9][a-z0-9._-]{0,62}$`), checked by the table too. Tokens bound to
 * consumers (auth/) name them by the same rule.
 */
import { errors, quoted } from '../errors.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Whether `name` is a name a consumer can have. */
export function isConsumerName(name: string): boolean {
  return NAME.test(name);
}

/** Checks a consumer name; BAD_USER_INPUT otherwise. */
export function checkConsumerName(name: string): string {
  if (!NAME.test(name)) {
    throw errors.badInput(
      `consumer names are 1 to 63 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit; got ${quoted(name, 80)}`,
    );
  }
  return name;
}
