import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  /** performance.now() when its last byte arrived. */
  readonly at: number;
}

/**
 * One keep-alive HTTP/1.1 connection driven by hand, so that a test decides what is sent on
 * which connection, and when (fetch and inject pool or fake connections). Answers must carry a
 * content-length or be chunked.
 */
export class RawConnection {
  private readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private readonly waiting: Array<(answer: RawAnswer) => void> = [];
  readonly opened: Promise<void>;

  constructor(port: number, host = '127.0.0.1') {
    this.socket = connect(port, host);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = this.buffer.subarray(0, end).toString('latin1');
        let total: number;
        if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const last = this.buffer.indexOf('\r\n0\r\n\r\n', end);
          if (last === -1) return;
          total = last + 7;
        } else {
          total = end + 4 + Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (this.buffer.length < total) return;
        }
        this.buffer = this.buffer.subarray(total);
        const answer = { status: Number(head.slice(9, 12)), retryAfter: /\r\nretry-after: *(\d+)/i.exec(head)?.[1], at: performance.now() };
        this.waiting.shift()?.(answer);
      }
    });
  }

  /** Sends a GET now; resolves with its answer. */
  get(path: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
    const lines = [`GET ${path} HTTP/1.1`, 'host: 127.0.0.1', 'connection: keep-alive', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    const answer = new Promise<RawAnswer>((resolve) => this.waiting.push(resolve));
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    return answer;
  }

  close(): void {
    this.socket.destroy();
  }
}
