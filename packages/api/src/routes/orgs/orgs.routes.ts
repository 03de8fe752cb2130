import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AtlasError, findRegion, homeRegionOfOrg, newOrgId, notFound } from '@atlas/core';
import { findOrganization, insertOrganization, renameOrganization, withTenant } from '@atlas/db';
import { auditRequest } from '../crm/crm-resource';
import { PageOf, PageQuery, decodeCursor } from '../../lib/pagination';
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
        summary: 'Create an organization homed in a region (open: it grants nobody access; see policy.ts)',
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
        summary: "The caller's organization (a token sees no other tenant)",
        querystring: Type.Object({ ...PageQuery, homeRegion: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: PageOf(Organization), 400: ErrorBody },
      },
    },
    async (request) => {
      decodeCursor(request.query.cursor, ORG_ID);
      const own = request.principal!.orgId;
      const org = await app.atlas.cache.read('organization', own, () => findOrganization(db, own));
      const visible = org && (request.query.homeRegion === undefined || org.homeRegion === request.query.homeRegion) ? [org] : [];
      return { items: visible, nextCursor: null };
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
      config: { requireRole: 'admin' },
      schema: {
        tags: ['organizations'],
        params: Type.Object({ orgId: OrgIdParam }),
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 200: Organization, 404: ErrorBody },
      },
    },
    async (request) => {
      const { orgId } = request.params;
      const org = await renameOrganization(db, orgId, request.body.name.trim());
      if (!org) throw notFound(`organization ${orgId}`);
      // An admin action, recorded in the organization's home region (where its trail lives).
      if (homeRegionOfOrg(topology, orgId)?.id === app.atlas.config.region.id) {
        await withTenant(db, orgId, (tx) => auditRequest(request, tx, { orgId, action: 'rename', entity: 'organization', entityId: orgId }));
      }
      return org;
    },
  );
}
