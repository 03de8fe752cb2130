import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, OrgIdParam } from '../../lib/schemas';
import { runRetentionPurge } from '../../lib/retention';

const Counts = { dossier: Type.Integer(), activity: Type.Integer(), document: Type.Integer(), privacyExport: Type.Integer() };

/** Runs the retention purge now for one organization (admin) and returns its report. */
export async function retentionRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/api/orgs/:orgId/retention/purge',
    {
      config: { requireRole: 'admin' },
      schema: {
        tags: ['privacy'],
        summary: "Delete the organization's records past their retention period, now",
        params: Type.Object({ orgId: OrgIdParam }),
        response: {
          200: Type.Object({
            region: Type.String(),
            ranAt: Type.String(),
            policy: Type.Record(Type.String(), Type.Integer()),
            organizations: Type.Array(Type.Object({ orgId: Type.String(), ...Counts })),
            totals: Type.Object(Counts),
          }),
          403: ErrorBody,
          421: ErrorBody,
        },
      },
    },
    async (request) => {
      const report = await runRetentionPurge(app.atlas, new Date(), [request.params.orgId]);
      return { ...report, policy: { ...report.policy } as Record<string, number>, organizations: [...report.organizations] };
    },
  );
}
