import { createServer } from 'node:net';

/** Resolves when nothing listens on 127.0.0.1:port; rejects with a message naming the port. */
export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${port} (${what}) is already in use: stop whatever holds it (\`atlas down\` if it is an earlier Atlas) or change the port in the topology`
            : `cannot bind port ${port} (${what}): ${err.message}`,
        ),
      );
    });
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}
