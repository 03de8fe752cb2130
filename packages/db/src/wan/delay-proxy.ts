import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Topology } from '@atlas/core';

/**
 * A TCP proxy that adds a one-way delay to every chunk, in each direction, keeping order: the
 * simulated WAN between regions (kernel netem is not available here, POSTGRES_FACTS.md).
 * Each replication link (and cross-region API call) goes through one, delayed by half the
 * topology's round-trip time, so measured lag reflects real geography.
 */

export interface DelayProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  /** One-way delay in milliseconds, applied to each direction. */
  readonly delayMs: number;
  /** Listening port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  readonly host?: string;
  /** Above this many bytes queued in one direction, reading from the sender pauses. */
  readonly highWaterBytes?: number;
}

export interface DelayProxyCounters {
  readonly connections: number;
  readonly activeConnections: number;
  /** Client → target. */
  readonly bytesUp: number;
  /** Target → client. */
  readonly bytesDown: number;
  readonly chunksUp: number;
  readonly chunksDown: number;
}

type Item = { readonly due: number; readonly chunk: Buffer | null };

/** One direction of one connection: a FIFO of chunks, each released at its due time. */
class DelayedPipe {
  private readonly queue: Item[] = [];
  private queuedBytes = 0;
  private lastDue = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly delay: () => number,
    private readonly highWater: number,
    private readonly count: (bytes: number) => void,
  ) {
    from.on('data', (chunk: Buffer) => {
      this.count(chunk.length);
      this.push(chunk);
      if (this.queuedBytes > this.highWater) from.pause();
    });
    from.on('end', () => this.push(null));
  }

  private push(chunk: Buffer | null): void {
    // Never earlier than the chunk before it, even if the delay was lowered meanwhile.
    const due = Math.max(performance.now() + this.delay(), this.lastDue);
    this.lastDue = due;
    this.queue.push({ due, chunk });
    if (chunk) this.queuedBytes += chunk.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0]!.due - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now + 0.5) {
      const item = this.queue.shift()!;
      if (item.chunk === null) {
        this.to.end();
        continue;
      }
      this.queuedBytes -= item.chunk.length;
      if (!this.to.destroyed) this.to.write(item.chunk);
    }
    if (this.queuedBytes <= this.highWater && this.from.isPaused()) this.from.resume();
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

export class DelayProxy {
  private delayMs: number;
  private readonly sockets = new Set<Socket>();
  private readonly pipes = new Set<DelayedPipe>();
  private stats = { connections: 0, bytesUp: 0, bytesDown: 0, chunksUp: 0, chunksDown: 0 };

  private constructor(
    private readonly server: Server,
    private readonly options: DelayProxyOptions,
  ) {
    this.delayMs = options.delayMs;
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(options: DelayProxyOptions): Promise<DelayProxy> {
    if (!(options.delayMs >= 0)) throw new Error(`delay must be a non-negative number of milliseconds, not ${options.delayMs}`);
    const server = createServer();
    const proxy = new DelayProxy(server, options);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get host(): string {
    return (this.server.address() as AddressInfo).address;
  }

  get delay(): number {
    return this.delayMs;
  }

  /** Changes the one-way delay for chunks that arrive from now on (order is still kept). */
  setDelay(ms: number): void {
    if (!(ms >= 0)) throw new Error(`delay must be a non-negative number of milliseconds, not ${ms}`);
    this.delayMs = ms;
  }

  counters(): DelayProxyCounters {
    return { ...this.stats, activeConnections: this.sockets.size / 2 };
  }

  private accept(client: Socket): void {
    this.stats.connections += 1;
    const upstream = createConnection({ host: this.options.target.host, port: this.options.target.port });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const delay = () => this.delayMs;
    const high = this.options.highWaterBytes ?? 4 * 1024 * 1024;
    const up = new DelayedPipe(client, upstream, delay, high, (b) => {
      this.stats.bytesUp += b;
      this.stats.chunksUp += 1;
    });
    const down = new DelayedPipe(upstream, client, delay, high, (b) => {
      this.stats.bytesDown += b;
      this.stats.chunksDown += 1;
    });
    this.pipes.add(up);
    this.pipes.add(down);
    const teardown = () => {
      up.stop();
      down.stop();
      this.pipes.delete(up);
      this.pipes.delete(down);
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    // A reset on either side resets the other: the peer sees what a WAN failure looks like.
    // An orderly close waits until what was already in flight has been delivered.
    client.on('error', teardown);
    upstream.on('error', teardown);
    const later = () => setTimeout(teardown, this.delayMs + 5).unref();
    client.on('close', later);
    upstream.on('close', later);
  }

  /** Stops listening and cuts every open connection. */
  async close(): Promise<void> {
    for (const pipe of this.pipes) pipe.stop();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** One-way delay of a link: half the topology's round trip between the two regions. */
export function oneWayDelayMs(topology: Topology, from: string, to: string): number {
  const rtt = topology.rttMs[from]?.[to] ?? topology.rttMs[to]?.[from];
  if (rtt === undefined) throw new Error(`no round-trip time between ${from} and ${to} in the topology`);
  return rtt / 2;
}
