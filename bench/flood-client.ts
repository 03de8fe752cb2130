import autocannon from 'autocannon';

/**
 * The flooding organization's client, in its own process (rate-limit-flood.ts starts it at a
 * lower CPU priority): a remote attacker's client costs the server's machine nothing, and on a
 * shared two-core box the next best thing is a client that only takes CPU nobody else wants.
 * Input: one JSON argument; output: one JSON line with what it sent and the CPU it used.
 */
interface FloodOrder {
  readonly url: string;
  readonly authorization: string;
  readonly connections: number;
  readonly rate: number;
  readonly seconds: number;
}

const order = JSON.parse(process.argv[2] ?? '{}') as FloodOrder;
const started = process.cpuUsage();
const running = autocannon({
  url: order.url,
  headers: { authorization: order.authorization },
  connections: order.connections,
  overallRate: order.rate,
  duration: order.seconds,
});
process.stdout.write('{"started":true}\n');
const result = await running;
const cpu = process.cpuUsage(started);
const codes = result.statusCodeStats ?? {};
process.stdout.write(
  `${JSON.stringify({
    total: result.requests.total,
    ok: Number((result as unknown as Record<string, number>)['2xx'] ?? 0),
    limited: Number(codes['429']?.count ?? 0),
    errors: result.errors,
    cpuMs: (cpu.user + cpu.system) / 1000,
  })}\n`,
);
