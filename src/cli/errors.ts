/**
 * How the CLI fails, and the exit codes scripts can rely on: 0 done, 1 the
 * command failed (the database, a refusal: the message says why), 2 the
 * command line is wrong (unknown command or option, a bad value).
 */

/** Exit codes. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A failure with a message meant for the operator, printed without a stack trace. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}
