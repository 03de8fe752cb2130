import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AtlasError, homeRegionOfOrg, notFound } from '@atlas/core';
import { findOrganization, recordAudit, withTenant, type Role } from '@atlas/db';
import { issueToken } from '../../auth/tokens';
import { normalizeEmail, userIdFor } from '../../lib/blind-index';
import { Email, ErrorBody, OrgIdParam } from '../../lib/schemas';
import { sql } from 'kysely';

/**
 * Local sign-in (ATLAS_DEV_AUTH=1 only, which `atlas up` sets): a token for an existing user
 * of the organization, with the user's role. An organization with no user yet gets one
 * bootstrap token for its first admin (to create that user). Production sign-in is an
 * identity provider issuing the same tokens; this route does not exist there.
 */
export async function devTokenRoutes(base: FastifyInstance): Promise<void> {
  const { security, blindIndexKey, topology } = base.atlas.config;
  if (!security.devAuth || !security.authSigningKey) return;
  const signingKey = security.authSigningKey;
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = app.atlas.db;

  app.post(
    '/api/auth/dev-token',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Local development sign-in: a signed token for a user of an organization',
        body: Type.Object({ orgId: OrgIdParam, email: Email }, { additionalProperties: false }),
        response: {
          200: Type.Object({ token: Type.String(), expiresAt: Type.String(), userId: Type.String(), orgId: Type.String(), role: Type.String(), homeRegion: Type.String() }),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const { orgId } = request.body;
      const home = homeRegionOfOrg(topology, orgId);
      if (!home || !(await findOrganization(db, orgId))) throw notFound(`organization ${orgId}`);
      const userId = userIdFor(blindIndexKey, orgId, normalizeEmail(request.body.email));
      const role = await withTenant(db, orgId, async (tx): Promise<Role> => {
        const user = await tx.selectFrom('appUser').select(['role', 'tombstone']).where('id', '=', userId).executeTakeFirst();
        if (user && user.tombstone === null) return user.role;
        if (user) throw new AtlasError('ATLAS_ERR_FORBIDDEN', 'this user was deleted');
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM app_user WHERE org_id = ${orgId} AND tombstone IS NULL`.execute(tx);
        if ((rows[0]?.n ?? 0) > 0) throw notFound(`user with this e-mail in ${orgId}`);
        return 'admin';
      });
      const issued = await issueToken(signingKey, { userId, orgId, roles: [role], homeRegion: home.id }, security.tokenTtlSeconds);
      if (home.id === app.atlas.config.region.id) {
        await withTenant(db, orgId, (tx) => recordAudit(tx, { orgId, actor: userId, action: 'sign-in', entity: 'user', entityId: userId, sourceIp: request.ip, requestId: request.id, details: { method: 'dev-token', role } }));
      }
      return { ...issued, userId, orgId, role, homeRegion: home.id };
    },
  );
}
