/** A free TCP port on loopback, for servers a test starts in another process. */
import { createServer } from 'node:net';

/** Asks the kernel for a free port on 127.0.0.1, then releases it; never the same port twice in one process. */
export async function freePort(): Promise<number> {
  // The kernel may hand the same ephemeral port to two binds in a row: two servers told to use
  // ports asked for one after the other (a gateway and its embedded Postgres) would then collide.
  for (;;) {
    const port = await boundOnce();
    if (given.has(port)) continue;
    given.add(port);
    return port;
  }
}

/** Every port `freePort` returned in this process. */
const given = new Set<number>();

function boundOnce(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
