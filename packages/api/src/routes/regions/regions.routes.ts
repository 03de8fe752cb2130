import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { RegionConfig, Topology } from '@atlas/core';

const RegionView = Type.Object({
  region: Type.String(),
  code: Type.String(),
  displayName: Type.String(),
  jurisdiction: Type.String(),
  apiPort: Type.Integer(),
  drPartner: Type.Union([Type.String(), Type.Null()]),
  rttMs: Type.Record(Type.String(), Type.Number()),
});

function view(topology: Topology, r: RegionConfig) {
  return {
    region: r.id,
    code: r.code,
    displayName: r.displayName,
    jurisdiction: r.jurisdiction,
    apiPort: r.apiPort,
    drPartner: r.drPartner ?? null,
    rttMs: { ...topology.rttMs[r.id] },
  };
}

export async function regionRoutes(app: FastifyInstance): Promise<void> {
  const { topology, region } = app.atlas.config;
  app.get(
    '/api/regions/current',
    { schema: { tags: ['regions'], summary: 'The region serving this request', response: { 200: RegionView } } },
    async () => view(topology, region),
  );
  app.get(
    '/api/regions',
    { schema: { tags: ['regions'], summary: 'Every region of the topology', response: { 200: Type.Object({ current: Type.String(), regions: Type.Array(RegionView) }) } } },
    async () => ({ current: region.id, regions: topology.regions.map((r) => view(topology, r)) }),
  );
}
