/**
 * The entry of the `hydra-notify-gateway` command (bin/hydra-notify-gateway.js
 * runs it through tsx): runs the program on the process's arguments and exits
 * with its code, except `serve`, which keeps running until it is stopped.
 */
import { run } from './program.js';

const code = await run(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
process.exit(code);
