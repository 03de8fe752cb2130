import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

/**
 * The flooding organization's client, in its own process (rate-limit-flood.ts starts it at a
 * lower CPU priority): a remote attacker's client costs the server's machine nothing, and on a
 * shared two-core box the next best thing is a client that only takes CPU nobody else wants.
 *
 * Plain keep-alive HTTP/1.1 over raw sockets (one request in flight per connection, the next
 * one sent once the previous answer has arrived, at most `rate` a second over all connections),
 * so that it costs as little CPU as a client can. It stays connected for the whole run and is
 * switched by lines on stdin: `on`, `off`, `report` (one JSON line of cumulative counts on
 * stdout) and `stop` (report, then exit). `{"ready":true}` once every connection is open.
 */
interface FloodOrder {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly authorization: string;
  readonly connections: number;
  readonly rate: number;
}

const order = JSON.parse(process.argv[2] ?? '{}') as FloodOrder;
const request = Buffer.from(`GET ${order.path} HTTP/1.1\r\nhost: ${order.host}:${order.port}\r\nauthorization: ${order.authorization}\r\nconnection: keep-alive\r\n\r\n`);
const counts = { sent: 0, answered: 0, ok: 0, limited: 0, other: 0, reconnects: 0 };
let on = false;
/** Requests the rate allows now (refilled by the clock, at most one per connection in hand). */
let allowance = 0;
let last = performance.now();
const HEADER_END = Buffer.from('\r\n\r\n');

interface Connection {
  socket: Socket;
  busy: boolean;
  buffer: Buffer;
}

const connections: Connection[] = [];

function open(c: Connection | undefined): Connection {
  const socket = connect(order.port, order.host);
  socket.setNoDelay(true);
  const conn: Connection = c ?? { socket, busy: false, buffer: Buffer.alloc(0) };
  conn.socket = socket;
  conn.busy = false;
  conn.buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
    for (;;) {
      const end = conn.buffer.indexOf(HEADER_END);
      if (end === -1) return;
      const head = conn.buffer.subarray(0, end).toString('latin1');
      const match = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (!match) throw new Error(`an answer without content-length: ${head}`);
      const total = end + 4 + Number(match[1]);
      if (conn.buffer.length < total) return;
      const status = Number(head.slice(9, 12));
      conn.buffer = conn.buffer.subarray(total);
      counts.answered++;
      if (status === 429) counts.limited++;
      else if (status >= 200 && status < 300) counts.ok++;
      else counts.other++;
      conn.busy = false;
      send(conn);
    }
  });
  const reopen = () => {
    if (stopping) return;
    counts.reconnects++;
    socket.removeAllListeners();
    socket.destroy();
    setTimeout(() => open(conn), 10);
  };
  socket.on('error', reopen);
  socket.on('close', reopen);
  return conn;
}

function send(conn: Connection): void {
  if (!on || conn.busy || allowance < 1) return;
  allowance--;
  conn.busy = true;
  counts.sent++;
  conn.socket.write(request);
}
let stopping = false;
const tick = setInterval(() => {
  if (!on) return;
  const now = performance.now();
  if (on) allowance = Math.min(order.connections, allowance + ((now - last) / 1000) * order.rate);
  last = now;
  for (const conn of connections) send(conn);
}, 2);

for (let i = 0; i < order.connections; i++) connections.push(open(undefined));
await Promise.all(connections.map((c) => new Promise<void>((resolve) => (c.socket.readyState === 'open' ? resolve() : c.socket.once('connect', () => resolve())))));
process.stdout.write('{"ready":true}\n');

const started = process.cpuUsage();
const report = () => {
  const cpu = process.cpuUsage(started);
  process.stdout.write(`${JSON.stringify({ ...counts, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
};
for await (const line of createInterface({ input: process.stdin })) {
  const command = line.trim();
  if (command === 'on') {
    on = true;
    allowance = 0;
    last = performance.now();
  } else if (command === 'off') {
    on = false;
    allowance = 0;
  } else if (command === 'report') {
    report();
  } else if (command === 'stop') {
    break;
  }
}
stopping = true;
clearInterval(tick);
report();
for (const conn of connections) conn.socket.destroy();
process.exit(0);
