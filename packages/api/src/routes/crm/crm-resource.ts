import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type, { type TObject, type TProperties } from 'typebox';
import { AtlasError, notFound } from '@atlas/core';
import {
  deleteRegional,
  dossierBelongsTo,
  findRegional,
  insertRegional,
  listRegional,
  recordAudit,
  updateRegional,
  withTenant,
  type Executor,
  type Filter,
  type RegionalTable,
  type Row,
} from '@atlas/db';
import { DEFAULT_PAGE_SIZE, PageOf, PageQuery, UUID, decodeCursor, page } from '../../lib/pagination';
import { ErrorBody, OrgIdParam, UuidParam } from '../../lib/schemas';

/** A regional CRM collection under /api/orgs/{orgId}/…, described once, served by one set of routes. */
export interface CrmResource {
  readonly table: RegionalTable;
  readonly path: string;
  readonly entity: string;
  readonly item: TObject;
  readonly create: TProperties;
  readonly filters: TProperties;
  /** Translates validated query parameters into query filters (column names chosen here, never by clients). */
  toFilters(query: Record<string, unknown>): Filter[];
  /** Converts a row to the API shape (numeric strings to numbers and the like). */
  toApi?(row: Row): Row;
  /**
   * Work outside the database once a record is deleted (e.g. its stored body). It runs inside
   * the delete's transaction, after the row is gone: if it fails, the row comes back and the
   * client may retry, rather than a deleted row leaving its body behind for good.
   */
  afterDelete?(app: FastifyInstance, orgId: string, id: string): Promise<void>;
  /** Holds personal data: every read is audited too, not only writes. */
  readonly personal?: boolean;
}

/** The audit trail's "who": the verified user, or 'anonymous' on a public route. */
export function actorOf(request: FastifyRequest): string {
  return request.principal?.userId ?? 'anonymous';
}

/** Appends an audit event for this request (who, from where, which request) in its transaction. */
export function auditRequest(
  request: FastifyRequest,
  tx: Executor,
  event: { orgId: string; action: string; entity: string; entityId?: string | null; outcome?: string; details?: Record<string, unknown> },
) {
  return recordAudit(tx, { ...event, actor: actorOf(request), sourceIp: request.ip, requestId: request.id });
}

/**
 * Records a read of personal data through the read-audit group commit (lib/audit-batcher.ts):
 * resolves once the event is committed, so the caller sends the data only after that.
 */
export function auditRead(
  request: FastifyRequest,
  event: { orgId: string; action: string; entity: string; entityId?: string | null; details?: Record<string, unknown> },
): Promise<void> {
  return request.server.auditReads.append({ ...event, actor: actorOf(request), sourceIp: request.ip, requestId: request.id });
}

/** Refuses a dossierId that does not name a dossier of the same organization. */
export async function checkDossierLink(db: Executor, orgId: string, body: { dossierId?: string | null }): Promise<void> {
  if (body.dossierId && !(await dossierBelongsTo(db, orgId, body.dossierId))) {
    throw new AtlasError('ATLAS_ERR_VALIDATION', `body/dossierId: no dossier ${body.dossierId} in organization ${orgId}`);
  }
}

export function crmRoutes(resource: CrmResource) {
  return async function routes(base: FastifyInstance): Promise<void> {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const { db } = app.atlas.db;
    const toApi = resource.toApi ?? ((row: Row) => row);
    const collection = `/api/orgs/:orgId/${resource.path}`;
    const member = `${collection}/:id`;
    const Params = Type.Object({ orgId: OrgIdParam });
    const MemberParams = Type.Object({ orgId: OrgIdParam, id: UuidParam });
    const tags = ['crm'];
    const audit = (request: FastifyRequest, tx: Executor, action: string, entityId: string | null, details?: Record<string, unknown>) =>
      auditRequest(request, tx, { orgId: (request.params as { orgId: string }).orgId, action, entity: resource.entity, entityId, details });

    app.post(
      collection,
      {
        schema: {
          tags,
          summary: `Create a ${resource.entity}`,
          params: Params,
          body: Type.Object(resource.create, { additionalProperties: false }),
          response: { 201: resource.item, 400: ErrorBody, 421: ErrorBody },
        },
      },
      async (request, reply) => {
        const { orgId } = request.params;
        const body = request.body as Row & { dossierId?: string | null };
        const row = await withTenant(db, orgId, async (tx) => {
          await checkDossierLink(tx, orgId, body);
          const created = await insertRegional(tx, resource.table, orgId, body);
          await audit(request, tx, 'create', String(created.id));
          return created;
        });
        return reply.code(201).send(toApi(row));
      },
    );

    app.get(
      collection,
      {
        schema: {
          tags,
          summary: `List ${resource.path}, newest first`,
          params: Params,
          querystring: Type.Object({ ...PageQuery, ...resource.filters }, { additionalProperties: false }),
          response: { 200: PageOf(resource.item), 400: ErrorBody, 421: ErrorBody },
        },
      },
      async (request) => {
        const query = request.query as Record<string, unknown> & { limit?: number; cursor?: string };
        const limit = query.limit ?? DEFAULT_PAGE_SIZE;
        const { orgId } = request.params;
        const before = decodeCursor(query.cursor, UUID);
        const rows = await withTenant(db, orgId, (tx) => listRegional(tx, resource.table, orgId, { limit, before, filters: resource.toFilters(query) }));
        if (resource.personal) await auditRead(request, { orgId, action: 'list', entity: resource.entity, details: { count: Math.min(rows.length, limit) } });
        const result = page(rows, limit, (r) => String(r.id));
        return { items: result.items.map(toApi), nextCursor: result.nextCursor };
      },
    );

    app.get(
      member,
      { schema: { tags, params: MemberParams, response: { 200: resource.item, 404: ErrorBody, 421: ErrorBody } } },
      async (request) => {
        const { orgId, id } = request.params;
        const row = await withTenant(db, orgId, (tx) => findRegional(tx, resource.table, orgId, id));
        if (!row) throw notFound(`${resource.entity} ${id}`);
        if (resource.personal) await auditRead(request, { orgId, action: 'read', entity: resource.entity, entityId: id });
        return toApi(row);
      },
    );

    app.patch(
      member,
      {
        schema: {
          tags,
          summary: `Change some fields of a ${resource.entity}`,
          params: MemberParams,
          body: Type.Object(
            Object.fromEntries(Object.entries(resource.create).map(([k, v]) => [k, Type.Optional(v)])),
            { additionalProperties: false, minProperties: 1 },
          ),
          response: { 200: resource.item, 400: ErrorBody, 404: ErrorBody, 421: ErrorBody },
        },
      },
      async (request) => {
        const { orgId, id } = request.params;
        const body = request.body as Row & { dossierId?: string | null };
        const row = await withTenant(db, orgId, async (tx) => {
          await checkDossierLink(tx, orgId, body);
          const updated = await updateRegional(tx, resource.table, orgId, id, body);
          if (updated) await audit(request, tx, 'update', id);
          return updated;
        });
        if (!row) throw notFound(`${resource.entity} ${id}`);
        return toApi(row);
      },
    );

    app.delete(
      member,
      { schema: { tags, params: MemberParams, response: { 204: Type.Null(), 404: ErrorBody, 421: ErrorBody } } },
      async (request, reply) => {
        const { orgId, id } = request.params;
        const deleted = await withTenant(db, orgId, async (tx) => {
          const done = await deleteRegional(tx, resource.table, orgId, id);
          if (done) {
            await audit(request, tx, 'delete', id);
            await resource.afterDelete?.(app, orgId, id);
          }
          return done;
        });
        if (!deleted) throw notFound(`${resource.entity} ${id}`);
        return reply.code(204).send(null);
      },
    );
  };
}
