import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AtlasError, notFound } from '@atlas/core';
import { SUBJECT_TABLES, withTenant } from '@atlas/db';
import { toCsv, tarArchive } from '../../lib/csv-archive';
import { DEFAULT_PAGE_SIZE, PageOf, PageQuery, UUID, decodeCursor, page } from '../../lib/pagination';
import { ErrorBody, OrgIdParam, Timestamp, UuidParam } from '../../lib/schemas';
import { auditRequest } from '../crm/crm-resource';
import { erasureLedgerCopyFor } from './erasure-ledger.store';
import { REQUEST_TYPES, findPrivacyRequest, listPrivacyRequests, processPrivacyRequest, type PrivacyRequestInput } from './privacy.service';

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const PrivacyRequest = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  region: Type.String(),
  type: Type.String(),
  subjectRef: Type.String(),
  subjectUserId: Nullable(Type.String()),
  status: Type.String(),
  requestedBy: Type.String(),
  receivedAt: Timestamp,
  dueAt: Timestamp,
  completedAt: Nullable(Timestamp),
  result: Type.Record(Type.String(), Type.Unknown()),
});

/** An address, possibly with white space around it (trimmed before use); 254 characters inside. */
const SubjectEmail = Type.String({ maxLength: 300, pattern: '^\\s*[^\\s@]{1,64}@[^\\s@]+\\.[^\\s@]+\\s*$' });

const Body = Type.Object(
  {
    type: Type.Union(REQUEST_TYPES.map((t) => Type.Literal(t))),
    subject: Type.Union([
      Type.Object({ userId: Type.String({ pattern: '^usr_[0-9a-z]{26}$' }) }, { additionalProperties: false }),
      // As the subject or a colleague typed it: case and surrounding white space are normalised.
      Type.Object({ email: SubjectEmail }, { additionalProperties: false }),
    ]),
    changes: Type.Optional(
      Type.Object(
        { fullName: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' })), phone: Type.Optional(Nullable(Type.String({ maxLength: 40, pattern: '^[0-9+() .-]*$' }))) },
        { additionalProperties: false },
      ),
    ),
    lift: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** Who may act on data-subject requests: the data-protection officer, and admins. */
const PRIVACY_ROLES = ['dpo', 'admin'] as const;

/**
 * Data-subject requests (GDPR art. 15-20), served by the organization's home region only
 * (the residency guard runs first): received, processed at once, tracked with their
 * one-month due date and result; exports as JSON and as a CSV archive.
 */
export async function privacyRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const ctx = app.atlas;
  const { db } = ctx.db;
  const collection = '/api/orgs/:orgId/privacy/requests';
  const member = `${collection}/:requestId`;
  const params = Type.Object({ orgId: OrgIdParam });
  const memberParams = Type.Object({ orgId: OrgIdParam, requestId: UuidParam });
  const tags = ['privacy'];
  const config = { requireRole: PRIVACY_ROLES };
  // The erasure ledger's off-database copy: the region's bucket in AWS, a file locally.
  const ledger = erasureLedgerCopyFor(ctx.config);
  app.addHook('onClose', async () => ledger.close());

  app.post(
    collection,
    { config, schema: { tags, summary: 'File and process a data-subject request', params, body: Body, response: { 201: PrivacyRequest, 400: ErrorBody, 404: ErrorBody, 421: ErrorBody, 423: ErrorBody, 503: ErrorBody } } },
    async (request, reply) => {
      const body = request.body as PrivacyRequestInput;
      if (body.type !== 'rectification' && body.changes !== undefined) throw new AtlasError('ATLAS_ERR_VALIDATION', 'body/changes belongs to rectification requests only');
      if (body.type !== 'restriction' && body.lift !== undefined) throw new AtlasError('ATLAS_ERR_VALIDATION', 'body/lift belongs to restriction requests only');
      const row = await processPrivacyRequest(ctx, ledger, request, request.params.orgId, body);
      return reply.code(201).send(row);
    },
  );

  app.get(
    collection,
    { config, schema: { tags, params, querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }), response: { 200: PageOf(PrivacyRequest), 400: ErrorBody, 421: ErrorBody } } },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE_SIZE;
      const { orgId } = request.params;
      const rows = await withTenant(db, orgId, (tx) => listPrivacyRequests(tx, orgId, limit, decodeCursor(request.query.cursor, UUID)));
      return page(rows, limit, (r) => r.id);
    },
  );

  app.get(member, { config, schema: { tags, params: memberParams, response: { 200: PrivacyRequest, 404: ErrorBody, 421: ErrorBody } } }, async (request) => {
    const { orgId, requestId } = request.params;
    const row = await withTenant(db, orgId, (tx) => findPrivacyRequest(tx, orgId, requestId));
    if (!row) throw notFound(`privacy request ${requestId}`);
    return row;
  });

  /** The stored export, read under the tenant and audited (it is the subject's personal data). */
  const readExport = (request: { params: { orgId: string; requestId: string } } & Parameters<typeof auditRequest>[0], format: string) =>
    withTenant(db, request.params.orgId, async (tx) => {
      const row = await findPrivacyRequest(tx, request.params.orgId, request.params.requestId, true);
      if (!row) throw notFound(`privacy request ${request.params.requestId}`);
      if (row.export === null || row.export === undefined) throw notFound(`export of privacy request ${request.params.requestId} (none, or no longer kept)`);
      await auditRequest(request, tx, { orgId: request.params.orgId, action: 'privacy.export', entity: 'privacy_request', entityId: row.id, details: { format } });
      return row.export as { tables: Record<string, Array<Record<string, unknown>>> };
    });

  app.get(`${member}/export`, { config, schema: { tags, summary: 'The JSON export of an access or portability request', params: memberParams } }, async (request, reply) => {
    const exported = await readExport(request, 'json');
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="subject-export-${request.params.requestId}.json"`)
      .send(JSON.stringify(exported));
  });

  app.get(`${member}/export.tar`, { config, schema: { tags, summary: 'The export as a CSV archive (one CSV per table, ustar)', params: memberParams } }, async (request, reply) => {
    const exported = await readExport(request, 'csv');
    const files = SUBJECT_TABLES.map((t) => ({ name: `${t}.csv`, content: toCsv(exported.tables[t] ?? []) }));
    return reply
      .header('content-type', 'application/x-tar')
      .header('content-disposition', `attachment; filename="subject-export-${request.params.requestId}.tar"`)
      .send(tarArchive(files));
  });
}
