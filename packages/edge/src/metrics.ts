import type { RegionStatus } from './region-monitor';

/**
 * The edge's Prometheus metrics. A dozen series do not justify a client library: counters
 * live here, region gauges are read from the monitor at scrape time, and the text format
 * (version 0.0.4) is written by hand.
 */
type Labels = Readonly<Record<string, string>>;

class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels, by = 1): void {
    const key = JSON.stringify(labels);
    const entry = this.values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }

  get(labels: Labels): number {
    return this.values.get(JSON.stringify(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${formatLabels(labels)} ${value}`);
    return lines.join('\n');
  }
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function gauge(name: string, help: string, rows: ReadonlyArray<[Labels, number | null]>): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
  for (const [labels, value] of rows) if (value !== null) lines.push(`${name}${formatLabels(labels)} ${value}`);
  return lines.join('\n');
}

export class EdgeMetrics {
  readonly requests = new Counter(
    'atlas_edge_requests_total',
    'Requests answered through the edge, by serving region, route reason and status class.',
  );
  readonly replays = new Counter(
    'atlas_edge_replays_total',
    'Requests replayed after a 421, by the region that refused and the region named.',
  );
  readonly retries = new Counter('atlas_edge_retries_total', 'Retries of idempotent requests after a transient failure, by region.');
  readonly upstreamErrors = new Counter(
    'atlas_edge_upstream_errors_total',
    'Proxied requests that got no usable answer from a region, by region and method.',
  );
  readonly unavailable = new Counter(
    'atlas_edge_unavailable_total',
    'Requests answered 503 by the edge because no permitted region was up, by preferred region and reason.',
  );
  readonly transitions = new Counter(
    'atlas_edge_region_health_transitions_total',
    'Region health changes seen by the edge, by region and new state.',
  );

  render(regions: readonly RegionStatus[]): string {
    const by = (r: RegionStatus) => ({ region: r.region });
    return (
      [
        this.requests.render(),
        this.replays.render(),
        this.retries.render(),
        this.upstreamErrors.render(),
        this.unavailable.render(),
        this.transitions.render(),
        gauge(
          'atlas_edge_region_up',
          'Whether the edge routes to the region (1) or not (0).',
          regions.map((r) => [by(r), r.state === 'up' ? 1 : 0]),
        ),
        gauge(
          'atlas_edge_region_latency_ewma_ms',
          "EWMA of the edge's probe round trips to the region, milliseconds.",
          regions.map((r) => [by(r), r.ewmaMs]),
        ),
        gauge(
          'atlas_edge_region_consecutive_failures',
          'Failed health checks in a row.',
          regions.map((r) => [by(r), r.consecutiveFailures]),
        ),
        gauge(
          'atlas_edge_region_consecutive_successes',
          'Good health checks in a row.',
          regions.map((r) => [by(r), r.consecutiveSuccesses]),
        ),
      ].join('\n\n') + '\n'
    );
  }
}
