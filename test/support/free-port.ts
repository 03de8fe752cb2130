import { mkdir, readdir, rmdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Ports handed out by freePort, across every test process on this machine: suites run in
 * parallel processes, and the kernel may give a port that one of them was just handed (and
 * has not bound yet) to another. A claim is a directory (mkdir is atomic); claims expire.
 */
const CLAIMS = join(tmpdir(), 'atlas-port-claims');
const CLAIM_TTL_MS = 30 * 60 * 1000;

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function claim(port: number): Promise<boolean> {
  const path = join(CLAIMS, String(port));
  try {
    await mkdir(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > CLAIM_TTL_MS) {
      await rmdir(path).catch(() => undefined);
      return claim(port);
    }
    return false;
  }
}

let swept = false;
async function sweep(): Promise<void> {
  if (swept) return;
  swept = true;
  for (const name of await readdir(CLAIMS).catch(() => [])) {
    const info = await stat(join(CLAIMS, name)).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > CLAIM_TTL_MS) await rmdir(join(CLAIMS, name)).catch(() => undefined);
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago and that no other test process was given. */
export async function freePort(offer: () => Promise<number> = kernelPort): Promise<number> {
  await mkdir(CLAIMS, { recursive: true });
  await sweep();
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await offer();
    if (await claim(port)) return port;
  }
  throw new Error('freePort: no unclaimed port after 50 attempts');
}

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/**
 * A database port for a region run by `atlas up` or the orchestrator: its standby and its
 * forwarder listen at fixed offsets above it (packages/db standby layout), so all three are
 * checked free and claimed.
 */
export async function freeDbPort(offsets: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await freePort();
    const others = offsets.map((o) => port + o);
    if (others.some((p) => p > 65535)) continue;
    let ok = true;
    for (const p of others) if (!(await bindable(p)) || !(await claim(p))) ok = false;
    if (ok) return port;
  }
  throw new Error('freeDbPort: no port with free offsets after 50 attempts');
}
