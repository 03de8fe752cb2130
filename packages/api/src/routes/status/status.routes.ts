import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { collectClusterStatus } from './status.service';

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const RegionEntry = Type.Object({
  region: Type.String(),
  jurisdiction: Type.String(),
  drPartner: Nullable(Type.String()),
  reachable: Type.Boolean({ description: "Whether the region's own status answered in time" }),
  health: Type.Union([Type.Literal('up'), Type.Literal('degraded'), Type.Literal('down')], {
    description: 'up: API and database answer; degraded: the API answers, its database or status does not; down: no answer',
  }),
  replication: Nullable(
    Type.Object({
      links: Type.Integer(),
      maxLagSeconds: Nullable(Type.Number()),
      maxLagBytes: Nullable(Type.Number()),
      errors: Type.Integer(),
      peers: Type.Array(Type.Object({ peer: Type.String(), state: Type.String(), lagSeconds: Nullable(Type.Number()), lagBytes: Nullable(Type.Number()) })),
    }),
  ),
  latency: Nullable(Type.Array(Type.Object({ to: Type.String(), samples: Type.Integer(), p50Ms: Type.Number(), p95Ms: Type.Number() }), { description: 'Round trips measured by this region to the others (last 15 minutes)' })),
  failover: Nullable(
    Type.Object({
      phase: Type.String(),
      zeroLoss: Type.String(),
      zeroLossSuspended: Type.Boolean({ description: 'True while no synchronous standby acknowledges commits' }),
      message: Type.String(),
      primaryHost: Nullable(Type.String()),
      source: Type.Union([Type.Literal('orchestrator'), Type.Literal('failover_event')]),
    }),
  ),
  hosting: Type.Array(Type.String(), { description: 'Regions whose organizations this region serves as their disaster-recovery partner right now' }),
  notes: Type.Array(Type.String()),
});

export const ClusterStatusBody = Type.Object({
  servedBy: Type.String(),
  generatedAt: Type.String({ format: 'date-time' }),
  orchestrator: Type.Object({ reachable: Type.Boolean() }),
  regions: Type.Array(RegionEntry),
});

/**
 * GET /api/status: the one status view (issue 4) — per region health, replication lag,
 * measured latency to the others and failover state, with whether the zero-loss promise is
 * suspended. Public, like /healthz: it carries no personal data. Never a 5xx for a source
 * that does not answer: that part shows as unreachable or null, with a note.
 */
export async function statusRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/status',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'Every region: health, replication lag, measured latency, failover state and the zero-loss promise',
        querystring: Type.Object(
          { scope: Type.Optional(Type.Union([Type.Literal('cluster'), Type.Literal('local')], { default: 'cluster', description: 'local: this region only (what peers ask each other)' })) },
          { additionalProperties: false },
        ),
        response: { 200: ClusterStatusBody },
      },
    },
    async (request) => collectClusterStatus(app.atlas, request.query.scope ?? 'cluster'),
  );
}
