import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** The libuv stream under a socket: reading can be stopped and started again. */
interface ReadableHandle {
  readStop(): number;
  readStart(): number;
}

/** Headers by which a proxy says the connection carries other clients' requests too. */
const PROXIED = ['x-forwarded-for', 'forwarded', 'via'] as const;

/** Default and upper bound of a hold, seconds (ATLAS_RATE_LIMIT_HOLD_MAX_S). */
export const HOLD_MAX_SECONDS = 60;

/**
 * After a 429, stops reading the refused client's connection until its Retry-After: the 429 is
 * written first; whatever the client sends on that connection meanwhile waits in the kernel's
 * socket buffer (TCP flow control pushes back on the client) and is read, and judged like any
 * request, once the time it was told to wait is over. A client that honours Retry-After never
 * notices; one that ignores it cannot send on that connection faster than it is allowed to, so
 * a flood over keep-alive connections costs the server one refusal per connection per
 * Retry-After instead of one per request.
 *
 * Only the refused request's own connection is held, never another one. A connection whose
 * request carries a proxy's header (X-Forwarded-For, Forwarded, Via) is never held: a proxy's
 * (the edge's) pooled connection carries other clients' and other organizations' requests.
 * A client adding such a header only opts out of the hold (it gets cheap 429s, as before).
 * Holds last min(Retry-After, maxSeconds); a connection already held is not held again; a held
 * connection closed or destroyed (server shutdown, keep-alive timeout) drops its timer.
 */
export class ConnectionHold {
  private readonly held = new Set<Socket>();

  constructor(private readonly maxSeconds: number) {}

  /** Connections held right now. */
  get size(): number {
    return this.held.size;
  }

  /** Holds the connection of `request` for `seconds` (capped); false when it is not held. */
  hold(request: IncomingMessage, seconds: number): boolean {
    const ms = Math.min(seconds, this.maxSeconds) * 1000;
    if (ms <= 0) return false;
    const headers = request.headers;
    for (const name of PROXIED) if (headers[name] !== undefined) return false;
    const socket = request.socket;
    if (this.held.has(socket) || socket.destroyed) return false;
    const handle = (socket as Socket & { _handle?: Partial<ReadableHandle> | null })._handle;
    if (!handle || typeof handle.readStop !== 'function' || typeof handle.readStart !== 'function') return false;
    // Node's own bookkeeping (handle.reading) is left as it is, so that nothing in the HTTP
    // server resumes the socket meanwhile; only the timer below starts reading again.
    if (handle.readStop() !== 0) return false;
    this.held.add(socket);
    const release = () => {
      clearTimeout(timer);
      socket.off('close', release);
      if (!this.held.delete(socket)) return;
      const current = (socket as Socket & { _handle?: Partial<ReadableHandle> | null })._handle;
      if (!socket.destroyed && current === handle) handle.readStart!();
    };
    const timer = setTimeout(release, ms);
    timer.unref();
    socket.once('close', release);
    return true;
  }
}
