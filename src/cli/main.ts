/**
 * The entry of the `hydra-notify-gateway` command (bin/hydra-notify-gateway.js
 * runs it through tsx): runs the program on the process's arguments and exits
 * with its code, except `serve`, which keeps running until it is stopped.
 * Results go to stdout, messages and status lines to stderr.
 */
import { run } from './program.js';

const terminal = process.stderr.isTTY === true;
const code = await run(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  // At a terminal, one line rewritten in place (carriage return, erase to the end of the line).
  status: terminal ? (text) => process.stderr.write(`\r\x1b[K${text}`) : (text) => process.stderr.write(`${text}\n`),
  terminal,
});
process.exit(code);
