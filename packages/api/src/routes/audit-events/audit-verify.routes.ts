import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { verifyAuditTrail, withTenant } from '@atlas/db';
import { ErrorBody, OrgIdParam } from '../../lib/schemas';
import { auditRequest } from '../crm/crm-resource';

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const Report = Type.Object({
  region: Type.String(),
  ok: Type.Boolean(),
  checked: Type.Integer(),
  checkpoints: Type.Integer(),
  broken: Nullable(Type.Object({ seq: Type.Integer(), id: Nullable(Type.String()), reason: Type.String() })),
  badCheckpoint: Nullable(Type.Object({ id: Type.String(), seq: Type.Integer(), reason: Type.String() })),
});

/**
 * Verifies this region's whole audit chain and its signed checkpoints. The chain is one per
 * region (every tenant's events are links of it), so the answer is the region's: it names
 * the first broken or missing link by sequence number and id, never any event's content.
 */
export async function auditVerifyRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/orgs/:orgId/audit/verify',
    {
      config: { requireRole: ['admin', 'dpo'] },
      schema: {
        tags: ['crm'],
        summary: "Verify the region's audit hash chain and signed checkpoints",
        params: Type.Object({ orgId: OrgIdParam }),
        response: { 200: Report, 403: ErrorBody, 421: ErrorBody },
      },
    },
    async (request) => {
      const { orgId } = request.params;
      const { db } = app.atlas.db;
      const report = await verifyAuditTrail(db, app.atlas.config.security.auditSigningKey);
      await withTenant(db, orgId, (tx) =>
        auditRequest(request, tx, { orgId, action: 'verify', entity: 'audit_event', outcome: report.ok ? 'success' : 'failure', details: { checked: report.checked } }),
      );
      return { region: app.atlas.config.region.id, ...report, broken: report.broken ?? null, badCheckpoint: report.badCheckpoint ?? null };
    },
  );
}
