import { loadTopology, parseTopology, type HealthState, type RoutingView, type Topology } from '../src/index';

/** The default topology: one region per jurisdiction, no DR partner. */
export const DEFAULT = loadTopology();

/** The default plus eu-central-1 as eu-west-1's DR partner (same jurisdiction). */
export const WITH_PARTNER: Topology = parseTopology({
  regions: [
    ...DEFAULT.regions.map((r) => (r.id === 'eu-west-1' ? { ...r, drPartner: 'eu-central-1' } : { ...r })),
    { id: 'eu-central-1', code: 'euc1', displayName: 'Europe (Frankfurt)', jurisdiction: 'EU', apiPort: 8084, dbPort: 54334 },
  ],
  rttMs: {
    'eu-west-1': { ...DEFAULT.rttMs['eu-west-1'], 'eu-central-1': 25 },
    'us-east-1': { ...DEFAULT.rttMs['us-east-1'], 'eu-central-1': 90 },
    'ap-southeast-1': { ...DEFAULT.rttMs['ap-southeast-1'], 'eu-central-1': 160 },
    'eu-central-1': { 'eu-west-1': 25, 'us-east-1': 90, 'ap-southeast-1': 160 },
  },
  countryRegions: { ...DEFAULT.countryRegions, DE: 'eu-central-1' },
  health: DEFAULT.health,
});

export function view(topology: Topology, down: readonly string[] = [], latencyMs: Record<string, number> = {}): RoutingView {
  const health: Record<string, HealthState> = {};
  for (const r of topology.regions) health[r.id] = down.includes(r.id) ? 'down' : 'up';
  return { topology, health, latencyMs };
}

/** A syntactically valid organization id homed in the region with this code. */
export const orgOf = (code: string): string => `org_${code}_${'0123456789abcdefghjk'}`;
