import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * forward: new connections go to the current target.
 * hold: new connections wait (a planned switchover: writes stop for a moment, no error).
 * refuse: new connections are closed at once (a drilled region outage).
 */
export type ForwarderMode = 'forward' | 'hold' | 'refuse';

export interface DbForwarderOptions {
  /** Where the region's API connects (its DATABASE_URL port). */
  readonly port: number;
  /** The port of the current primary. */
  readonly target: number;
  /** A held connection is dropped after this long (the client retries). */
  readonly holdTimeoutMs?: number;
}

/**
 * The region's stable database address: a TCP forwarder on 127.0.0.1 that the API's
 * DATABASE_URL names, so a failover repoints the API without restarting it. Re-targeting
 * closes every open connection (a pool on the old primary must not keep writing to it —
 * and a fenced node is dead anyway); new connections reach the new primary.
 */
export class DbForwarder {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  private held: Socket[] = [];
  private currentTarget: number;
  private currentMode: ForwarderMode = 'forward';

  constructor(private readonly options: DbForwarderOptions) {
    this.currentTarget = options.target;
  }

  get port(): number {
    return this.options.port;
  }

  get target(): number {
    return this.currentTarget;
  }

  get mode(): ForwarderMode {
    return this.currentMode;
  }

  get connections(): number {
    return this.open.size;
  }

  async start(): Promise<void> {
    const server = createServer({ noDelay: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Points new connections at `port` and closes the existing ones. */
  retarget(port: number): void {
    this.currentTarget = port;
    this.dropOpen();
  }

  /** Stops traffic without refusing it: open connections closed, new ones wait. */
  hold(): void {
    this.currentMode = 'hold';
    this.dropOpen();
  }

  /** Lets held and new connections through to `port` (default: the current target). */
  release(port: number = this.currentTarget): void {
    this.currentTarget = port;
    this.currentMode = 'forward';
    const waiting = this.held;
    this.held = [];
    for (const client of waiting) if (!client.destroyed) this.pipe(client);
  }

  refuse(): void {
    this.currentMode = 'refuse';
    this.dropOpen();
    for (const client of this.held.splice(0)) client.destroy();
  }

  async close(): Promise<void> {
    this.refuse();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private dropOpen(): void {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.currentMode === 'refuse') {
      client.destroy();
      return;
    }
    if (this.currentMode === 'hold') {
      this.held.push(client);
      const timer = setTimeout(() => client.destroy(), this.options.holdTimeoutMs ?? 10_000);
      timer.unref();
      client.once('close', () => {
        clearTimeout(timer);
        this.held = this.held.filter((c) => c !== client);
      });
      return;
    }
    this.pipe(client);
  }

  private pipe(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.currentTarget, noDelay: true });
    upstream.on('error', () => undefined);
    this.open.add(client);
    this.open.add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      this.open.delete(client);
      this.open.delete(upstream);
    };
    client.once('close', closeBoth);
    upstream.once('close', closeBoth);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
