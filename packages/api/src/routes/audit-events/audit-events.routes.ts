import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { listAuditEvents, withTenant } from '@atlas/db';
import { auditRead } from '../crm/crm-resource';
import { DEFAULT_PAGE_SIZE, PageOf, PageQuery, UUID, decodeCursor, page } from '../../lib/pagination';
import { ErrorBody, OrgIdParam, Timestamp } from '../../lib/schemas';

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const AuditEvent = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  region: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  entity: Type.String(),
  entityId: Nullable(Type.String()),
  outcome: Type.String(),
  sourceIp: Nullable(Type.String()),
  requestId: Nullable(Type.String()),
  at: Timestamp,
  seq: Type.Optional(Type.Integer()),
  prevHash: Type.Optional(Type.String()),
  hash: Type.Optional(Type.String()),
});

/** Read-only: the audit trail is append-only, and the API's role cannot change it. */
export async function auditEventRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/orgs/:orgId/audit-events',
    {
      config: { requireRole: ['admin', 'dpo'] },
      schema: {
        tags: ['crm'],
        summary: 'The organization\'s audit trail, newest first',
        params: Type.Object({ orgId: OrgIdParam }),
        querystring: Type.Object(
          { ...PageQuery, entity: Type.Optional(Type.String({ maxLength: 40 })), entityId: Type.Optional(Type.String({ maxLength: 64 })) },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(AuditEvent), 400: ErrorBody, 421: ErrorBody },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE_SIZE;
      const { orgId } = request.params;
      const before = decodeCursor(request.query.cursor, UUID);
      const rows = await withTenant(app.atlas.db.db, orgId, (tx) =>
        listAuditEvents(tx, orgId, { limit, before, entity: request.query.entity, entityId: request.query.entityId }),
      );
      await auditRead(request, { orgId, action: 'list', entity: 'audit_event', details: { count: Math.min(rows.length, limit) } });
      return page(rows, limit, (r) => r.id);
    },
  );
}
