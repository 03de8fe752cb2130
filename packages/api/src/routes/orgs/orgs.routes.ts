import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AtlasError, findRegion, newOrgId, notFound } from '@atlas/core';
import { findOrganization, insertOrganization, listOrganizations, renameOrganization } from '@atlas/db';
import { PageOf, PageQuery, decodeCursor, page, DEFAULT_PAGE_SIZE } from '../../lib/pagination';
import { ErrorBody, OrgIdParam, Timestamp } from '../../lib/schemas';

const Organization = Type.Object({
  id: Type.String(),
  name: Type.String(),
  homeRegion: Type.String(),
  originRegion: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const ORG_ID = /^org_[a-z0-9]{2,6}_[0-9a-z]{20}$/;

/** Organizations are global rows: any region creates and serves them; they replicate everywhere. */
export async function orgRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = app.atlas.db;
  const { topology } = app.atlas.config;

  app.post(
    '/api/orgs',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Create an organization homed in a region',
        body: Type.Object({ name: Name, homeRegion: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
        response: { 201: Organization, 400: ErrorBody },
      },
    },
    async (request, reply) => {
      const home = findRegion(topology, request.body.homeRegion);
      if (!home) {
        throw new AtlasError('ATLAS_ERR_VALIDATION', `body/homeRegion: unknown region ${request.body.homeRegion}; known: ${topology.regions.map((r) => r.id).join(', ')}`);
      }
      const org = await insertOrganization(db, { id: newOrgId(home), name: request.body.name.trim(), homeRegion: home.id });
      return reply.code(201).send(org);
    },
  );

  app.get(
    '/api/orgs',
    {
      schema: {
        tags: ['organizations'],
        summary: 'List organizations (every region serves every organization row)',
        querystring: Type.Object({ ...PageQuery, homeRegion: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: PageOf(Organization), 400: ErrorBody },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE_SIZE;
      const after = decodeCursor(request.query.cursor, ORG_ID);
      const rows = await listOrganizations(db, { limit, after, homeRegion: request.query.homeRegion });
      return page(rows, limit, (o) => o.id);
    },
  );

  app.get(
    '/api/orgs/:orgId',
    {
      schema: {
        tags: ['organizations'],
        params: Type.Object({ orgId: OrgIdParam }),
        response: { 200: Organization, 404: ErrorBody },
      },
    },
    async (request) => {
      const { orgId } = request.params;
      const org = await app.atlas.cache.read('organization', orgId, () => findOrganization(db, orgId));
      if (!org) throw notFound(`organization ${request.params.orgId}`);
      return org;
    },
  );

  app.patch(
    '/api/orgs/:orgId',
    {
      schema: {
        tags: ['organizations'],
        params: Type.Object({ orgId: OrgIdParam }),
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 200: Organization, 404: ErrorBody },
      },
    },
    async (request) => {
      const org = await renameOrganization(db, request.params.orgId, request.body.name.trim());
      if (!org) throw notFound(`organization ${request.params.orgId}`);
      return org;
    },
  );
}
