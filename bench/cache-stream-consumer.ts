import { listenForChanges } from '@atlas/api';

/**
 * The production path's cache streams in a process of their own, as the API runs them: each
 * region's API decodes its own database's stream, not the load generator. replication.bench.ts
 * starts it with one JSON argument and reads JSON lines: `{"ready":true}` once every stream is
 * open, then `{"delivered":{region:n}}` each time it is sent a line on stdin, and when every
 * region has delivered `target` changes of the tag's referential kind.
 */
interface Order {
  readonly streams: Readonly<Record<string, string>>;
  readonly tag: string;
  readonly target: number;
}

const order = JSON.parse(process.argv[2] ?? '{}') as Order;
const delivered: Record<string, number> = Object.fromEntries(Object.keys(order.streams).map((r) => [r, 0]));
const report = () => process.stdout.write(`${JSON.stringify({ delivered })}\n`);
let reported = false;
const listeners = Object.entries(order.streams).map(([region, url]) =>
  listenForChanges(url, {
    onChange: (table, key) => {
      if (table !== 'referential' || key !== order.tag) return;
      delivered[region] = (delivered[region] ?? 0) + 1;
      if (!reported && Object.values(delivered).every((n) => n >= order.target)) {
        reported = true;
        report();
      }
    },
    onReset: () => undefined,
    onError: (err) => process.stderr.write(`cache stream of ${region} reconnects: ${err.message}\n`),
  }),
);
await Promise.all(listeners.map((l) => l.ready));
process.stdout.write('{"ready":true}\n');
process.stdin.on('data', report);
process.stdin.on('end', () => void Promise.all(listeners.map((l) => l.close())).then(() => process.exit(0)));
