import { createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { parseTopology, type Topology } from '@atlas/core';
import * as support from '../../../../test/support/regions';
import { cluster, startRegionApp, type RegionApp, type RegionId } from '../../../../test/support/regions';
import { buildEdge, edgeConfig, type EdgeConfig, type EdgeInstance } from '../../src/index';

type AutoAuth = (url: string, fallbackOrg: string | undefined) => Record<string, string>;

/**
 * Bearer headers for an API path (a token of the organization in the path, else an
 * operator's), from the shared test support once the API requires authentication; none on
 * an API that does not. Authentication lands in parallel with the edge: this keeps the edge
 * suites valid on both sides of it.
 */
export function authFor(path: string, fallbackOrg?: string): Record<string, string> {
  const autoAuth = (support as unknown as { autoAuth?: AutoAuth }).autoAuth;
  return autoAuth ? autoAuth(path, fallbackOrg) : {};
}

/** fetch() of an API path through `base`, authenticated as the path calls for. */
export function fetchAs(
  base: string,
  path: string,
  init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${base}${path}`, { ...init, headers: { ...authFor(path), ...init.headers } });
}

/** The test cluster's topology (free ports, the default regions). */
export function testTopology(): Topology {
  return parseTopology(cluster().topology);
}

/**
 * A real regional API listening on loopback. Port 0 by default: several test files run at
 * once, and the edge is told where each region is, as it is in production.
 */
export class LiveRegion {
  private current: RegionApp | null = null;
  port = 0;

  constructor(readonly id: RegionId) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get app(): RegionApp {
    if (!this.current) throw new Error(`${this.id} is stopped`);
    return this.current;
  }

  async start(): Promise<this> {
    this.current = await startRegionApp(this.id);
    await this.current.app.listen({ host: '127.0.0.1', port: this.port });
    this.port = (this.current.app.server.address() as AddressInfo).port;
    return this;
  }

  /** Stops the API process's HTTP side and database pool: to the edge, the region is dead. */
  async stop(): Promise<void> {
    const app = this.current;
    this.current = null;
    await app?.close();
  }
}

export async function startRegions(
  ids: readonly RegionId[] = ['eu-west-1', 'us-east-1', 'ap-southeast-1'],
): Promise<Record<string, LiveRegion>> {
  const regions = await Promise.all(ids.map((id) => new LiveRegion(id).start()));
  return Object.fromEntries(regions.map((r) => [r.id, r]));
}

export interface EdgeUnderTest {
  readonly app: EdgeInstance;
  readonly url: string;
  readonly config: EdgeConfig;
  close(): Promise<void>;
}

/**
 * A real edge on a free loopback port, logging nothing, checking every 100 ms. The probe
 * timeout stays at 1 s: test files run in parallel on shared databases, and a loaded machine
 * must not look like a failing region.
 */
export async function startEdge(
  topology: Topology,
  upstreams: Record<string, string>,
  overrides: Parameters<typeof edgeConfig>[1] = {},
  options: Parameters<typeof buildEdge>[1] = {},
): Promise<EdgeUnderTest> {
  const config = edgeConfig(topology, {
    port: 0,
    upstreams,
    logLevel: 'silent',
    ...overrides,
    health: { intervalMs: 100, downAfter: 3, upAfter: 2, timeoutMs: 1_000, ...overrides.health },
  });
  const app = await buildEdge(config, { logger: false, ...options });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, config, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

export function urlsOf(regions: Record<string, { url: string }>): Record<string, string> {
  return Object.fromEntries(Object.entries(regions).map(([id, r]) => [id, r.url]));
}

/** Polls until `check` holds; bounded, so a broken edge fails the test instead of hanging it. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export interface StatusRegion {
  region: string;
  state: 'up' | 'down';
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  checks: number;
  failures: number;
  lastError: string | null;
  ewmaMs: number | null;
}

export async function regionStatus(edgeUrl: string, region: string): Promise<StatusRegion> {
  const body = (await (await fetch(`${edgeUrl}/edge/status`)).json()) as { regions: StatusRegion[] };
  return body.regions.find((r) => r.region === region)!;
}

/** Waits until every region is up with a few good checks in a row: a settled starting point. */
export async function waitAllSettled(edgeUrl: string, goodInARow = 3): Promise<void> {
  await waitUntil('every region settled up', async () => {
    const body = (await (await fetch(`${edgeUrl}/edge/status`)).json()) as { regions: StatusRegion[] };
    return body.regions.every((r) => r.state === 'up' && r.consecutiveSuccesses >= goodInARow);
  });
}

/**
 * A loopback HTTP proxy in front of a region that delays the requests `delayOf` picks: the
 * "slow network" between the edge and a region.
 */
export async function delayingProxy(
  target: () => string,
  delayOf: (path: string, n: number) => number,
): Promise<{ url: string; close(): Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    const delay = delayOf(req.url ?? '/', n++);
    setTimeout(() => {
      if (res.destroyed) return;
      const upstream = httpRequest(`${target()}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    }, delay);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/**
 * A TCP server that reads each request line, records it, and then either drops the
 * connection (a network error) or answers, as `answer` decides.
 */
export async function flakyServer(
  answer: (requestLine: string, seen: number) => 'drop' | string,
): Promise<{ url: string; lines: string[]; close(): Promise<void> }> {
  const lines: string[] = [];
  const server: TcpServer = createTcpServer((socket) => {
    socket.once('data', (chunk) => {
      const line = chunk.toString('latin1').split('\r\n', 1)[0]!;
      lines.push(line);
      const decision = answer(line, lines.filter((l) => l === line).length);
      if (decision === 'drop') socket.destroy();
      else
        socket.end(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(decision)}\r\nconnection: close\r\n\r\n${decision}`,
        );
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, lines, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
