/** A free TCP port on loopback, for the bench's Postgres. */
import { createServer } from 'node:net';

/** Asks the kernel for a free port on 127.0.0.1, then releases it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
