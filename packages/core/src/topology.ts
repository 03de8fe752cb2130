import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Type, { type Static } from 'typebox';
import { Value } from 'typebox/value';

/** Jurisdictions decide where regional data may live (rules R1 and R2). */
export const JURISDICTIONS = ['EU', 'US', 'APAC'] as const;
export type Jurisdiction = (typeof JURISDICTIONS)[number];

const RegionId = Type.String({ pattern: '^[a-z]{2}-[a-z]+-[0-9]$' });
const Port = Type.Integer({ minimum: 1024, maximum: 65535 });

const RegionSchema = Type.Object(
  {
    id: RegionId,
    /** Short code embedded in organization ids, so any node can route without a look-up. */
    code: Type.String({ pattern: '^[a-z0-9]{2,6}$' }),
    displayName: Type.String({ minLength: 1 }),
    jurisdiction: Type.Union([Type.Literal('EU'), Type.Literal('US'), Type.Literal('APAC')]),
    apiPort: Port,
    dbPort: Port,
    /** A region of the same jurisdiction that holds this region's standby (rule R2). */
    drPartner: Type.Optional(RegionId),
  },
  { additionalProperties: false },
);

export const TopologySchema = Type.Object(
  {
    $comment: Type.Optional(Type.String()),
    regions: Type.Array(RegionSchema, { minItems: 1 }),
    /** Round-trip times in milliseconds, from → to. */
    rttMs: Type.Record(Type.String(), Type.Record(Type.String(), Type.Number({ minimum: 0 }))),
    /** ISO 3166-1 alpha-2 country → region id. */
    countryRegions: Type.Record(Type.String({ pattern: '^[A-Z]{2}$' }), Type.String()),
    health: Type.Object(
      {
        intervalMs: Type.Integer({ minimum: 100 }),
        downAfter: Type.Integer({ minimum: 1 }),
        upAfter: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type RegionConfig = Static<typeof RegionSchema>;
export type TopologyInput = Static<typeof TopologySchema>;

export interface Topology {
  readonly regions: readonly RegionConfig[];
  readonly rttMs: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly countryRegions: Readonly<Record<string, string>>;
  readonly health: TopologyInput['health'];
}

export class TopologyError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid topology: ${field}: ${message}`);
    this.name = 'TopologyError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Validates a topology and returns it frozen. Throws a TopologyError naming the first bad
 * field: the schema first, then the cross-references a schema cannot express.
 */
export function parseTopology(input: unknown): Topology {
  const first = Value.Errors(TopologySchema, input)[0];
  if (first) {
    const field = first.instancePath === '' ? '(root)' : first.instancePath;
    throw new TopologyError(field, first.message);
  }
  const t = structuredClone(input) as TopologyInput;
  const ids = new Set<string>();
  const codes = new Set<string>();
  const ports = new Map<number, string>();
  t.regions.forEach((r, i) => {
    if (ids.has(r.id)) throw new TopologyError(`/regions/${i}/id`, `duplicate region ${r.id}`);
    if (codes.has(r.code)) throw new TopologyError(`/regions/${i}/code`, `duplicate code ${r.code}`);
    ids.add(r.id);
    codes.add(r.code);
    for (const key of ['apiPort', 'dbPort'] as const) {
      const owner = ports.get(r[key]);
      if (owner) throw new TopologyError(`/regions/${i}/${key}`, `port ${r[key]} already used by ${owner}`);
      ports.set(r[key], `${r.id}.${key}`);
    }
  });
  t.regions.forEach((r, i) => {
    if (r.drPartner === undefined) return;
    const partner = t.regions.find((p) => p.id === r.drPartner);
    if (!partner) throw new TopologyError(`/regions/${i}/drPartner`, `unknown region ${r.drPartner}`);
    if (partner.id === r.id) throw new TopologyError(`/regions/${i}/drPartner`, 'a region cannot be its own partner');
    if (partner.jurisdiction !== r.jurisdiction) {
      throw new TopologyError(
        `/regions/${i}/drPartner`,
        `${r.id} (${r.jurisdiction}) cannot fail over to ${partner.id} (${partner.jurisdiction}): rule R2 keeps regional data in its jurisdiction`,
      );
    }
  });
  for (const a of t.regions) {
    for (const b of t.regions) {
      if (a.id === b.id) continue;
      if (t.rttMs[a.id]?.[b.id] === undefined) throw new TopologyError(`/rttMs/${a.id}/${b.id}`, 'missing round-trip time');
    }
  }
  for (const from of Object.keys(t.rttMs)) {
    if (!ids.has(from)) throw new TopologyError(`/rttMs/${from}`, `unknown region ${from}`);
    for (const to of Object.keys(t.rttMs[from] ?? {})) {
      if (!ids.has(to)) throw new TopologyError(`/rttMs/${from}/${to}`, `unknown region ${to}`);
    }
  }
  for (const [country, region] of Object.entries(t.countryRegions)) {
    if (!ids.has(region)) throw new TopologyError(`/countryRegions/${country}`, `unknown region ${region}`);
  }
  const { $comment: _comment, ...rest } = t;
  return deepFreeze(rest);
}

export const DEFAULT_TOPOLOGY_PATH = fileURLToPath(new URL('../../../config/topology.json', import.meta.url));

/** Reads and validates a topology file; errors name the file and the bad field. */
export function loadTopology(path: string = process.env.ATLAS_TOPOLOGY ?? DEFAULT_TOPOLOGY_PATH): Topology {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TopologyError('(file)', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parseTopology(raw);
  } catch (err) {
    if (err instanceof TopologyError) throw new TopologyError(err.field, `${err.message.replace(/^invalid topology: [^:]+: /, '')} (in ${path})`);
    throw err;
  }
}

export function findRegion(topology: Topology, id: string): RegionConfig | undefined {
  return topology.regions.find((r) => r.id === id);
}

export function requireRegion(topology: Topology, id: string): RegionConfig {
  const region = findRegion(topology, id);
  if (!region) throw new TopologyError('region', `unknown region ${id}; known: ${topology.regions.map((r) => r.id).join(', ')}`);
  return region;
}

export function regionByCode(topology: Topology, code: string): RegionConfig | undefined {
  return topology.regions.find((r) => r.code === code);
}
