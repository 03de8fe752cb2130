import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './free-port';

/** A port straight from the kernel, claimed by nobody. */
const rawPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

describe('freePort', () => {
  it('never hands out a port twice, even when the kernel offers it again', async () => {
    const first = await freePort();
    // The kernel offers the port just handed out (released, not yet bound) twice, then another.
    const offers = [first, first];
    const second = await freePort(async () => offers.shift() ?? (await rawPort()));
    expect(offers).toEqual([]);
    expect(second).not.toBe(first);
  });

  it('gives distinct ports to many callers at once', async () => {
    const ports = await Promise.all(Array.from({ length: 30 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
  });
});
