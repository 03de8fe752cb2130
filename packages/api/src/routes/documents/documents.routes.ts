import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AtlasError, notFound } from '@atlas/core';
import { findRegional, updateRegional, withTenant, type FilterableQuery } from '@atlas/db';
import { ErrorBody, OrgIdParam, Timestamp, UuidParam } from '../../lib/schemas';
import { auditRead, auditRequest, crmRoutes, type CrmResource } from '../crm/crm-resource';

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const numberOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export const documents: CrmResource = {
  table: 'document',
  path: 'documents',
  entity: 'document',
  personal: true,
  create: {
    filename: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\u0000]+$' }),
    contentType: Type.Optional(Type.String({ pattern: '^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$', maxLength: 127 })),
    dossierId: Type.Optional(Nullable(Type.String({ format: 'uuid' }))),
  },
  item: Type.Object({
    id: Type.String(),
    orgId: Type.String(),
    region: Type.String(),
    dossierId: Nullable(Type.String()),
    filename: Type.String(),
    contentType: Type.String(),
    sizeBytes: Nullable(Type.Integer()),
    sha256: Nullable(Type.String()),
    uploaded: Type.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  }),
  filters: { dossierId: Type.Optional(Type.String({ format: 'uuid' })) },
  toFilters: (query) => (query.dossierId ? [(qb: FilterableQuery) => qb.where('dossierId', '=', query.dossierId)] : []),
  toApi: (row) => ({ ...row, sizeBytes: numberOrNull(row.sizeBytes), uploaded: row.sha256 !== null }),
  afterDelete: (app, orgId, id) => app.atlas.documents.delete(orgId, id),
};

/**
 * Documents: metadata through the CRM routes, the body through /content, stored encrypted in
 * the region's own body store (its folder locally, its S3 bucket in AWS; never in the database,
 * never in another region). The body is written before the row records it and put back if the
 * row's update fails, so a row never claims a body the store does not hold.
 */
export async function documentRoutes(base: FastifyInstance): Promise<void> {
  await base.register(crmRoutes(documents));
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = app.atlas.db;
  const store = app.atlas.documents;
  const limit = app.atlas.config.documentLimit;
  const params = Type.Object({ orgId: OrgIdParam, id: UuidParam });

  // Any media type is a document body; parsed as raw bytes only in this plugin's scope.
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (_request, body, done) => done(null, body));

  app.put(
    '/api/orgs/:orgId/documents/:id/content',
    {
      bodyLimit: limit,
      schema: {
        tags: ['crm'],
        summary: `Upload or replace a document's body (raw bytes, at most ${limit / 1024 / 1024} MiB)`,
        params,
        response: { 200: documents.item, 404: ErrorBody, 413: ErrorBody, 421: ErrorBody },
      },
    },
    async (request) => {
      const { orgId, id } = request.params;
      const body = request.body;
      if (!Buffer.isBuffer(body)) throw new AtlasError('ATLAS_ERR_VALIDATION', 'send the document body as raw bytes (e.g. application/octet-stream)');
      const existing = await withTenant(db, orgId, (tx) => findRegional(tx, 'document', orgId, id));
      if (!existing) throw notFound(`document ${id}`);
      const sha256 = createHash('sha256').update(body).digest('hex');
      const previous = await store.get(orgId, id);
      await store.put(orgId, id, body);
      try {
        const row = await withTenant(db, orgId, async (tx) => {
          const updated = await updateRegional(tx, 'document', orgId, id, { sizeBytes: body.length, sha256 });
          await auditRequest(request, tx, { orgId, action: 'upload', entity: 'document', entityId: id, details: { bytes: body.length } });
          return updated;
        });
        if (!row) throw notFound(`document ${id}`);
        return documents.toApi!(row);
      } catch (err) {
        // The metadata did not change: put the previous body back so body and row agree. The
        // client hears of the first failure; a failed restore is logged, not thrown over it.
        try {
          if (previous) await store.put(orgId, id, previous);
          else await store.delete(orgId, id);
        } catch (restoreErr) {
          request.log.error({ err: restoreErr, documentId: id }, 'could not restore the previous document body after a failed upload');
        }
        throw err;
      }
    },
  );

  app.get(
    '/api/orgs/:orgId/documents/:id/content',
    { schema: { tags: ['crm'], summary: "Download a document's body", params, response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }), 404: ErrorBody, 421: ErrorBody } } },
    async (request, reply) => {
      const { orgId, id } = request.params;
      const row = await withTenant(db, orgId, (tx) => findRegional(tx, 'document', orgId, id));
      if (!row) throw notFound(`document ${id}`);
      const body = await store.get(orgId, id);
      if (!body) throw notFound(`body of document ${id} (not uploaded yet)`);
      await auditRead(request, { orgId, action: 'download', entity: 'document', entityId: id });
      const filename = String(row.filename).replace(/["\\\r\n]/g, '_');
      return reply
        .header('content-type', String(row.contentType))
        .header('content-disposition', `attachment; filename="${filename}"; filename*=UTF-8''${encodeURIComponent(String(row.filename))}`)
        .header('x-content-type-options', 'nosniff')
        .send(body);
    },
  );
}
