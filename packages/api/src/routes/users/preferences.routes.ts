import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AtlasError, findRegion, notFound } from '@atlas/core';
import { findLiveAppUser, findPreferences, upsertPreferences, withTenant } from '@atlas/db';
import { ROLES } from '../../auth/tokens';
import { userState } from '../../auth/auth.plugin';
import { ErrorBody, Timestamp } from '../../lib/schemas';

const Theme = Type.Union((['light', 'dark', 'system'] as const).map((t) => Type.Literal(t)));
const Preferences = Type.Object({
  userId: Type.String(),
  locale: Type.String(),
  timezone: Type.String(),
  theme: Type.String(),
  preferredRegion: Type.Union([Type.String(), Type.Null()]),
  updatedAt: Type.Union([Timestamp, Type.Null()]),
});

/**
 * Preferences are global rows (no personal data): every region serves and accepts them, to
 * the user themself only (the token's subject), under the token's organization as tenant.
 */
export async function preferenceRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = app.atlas.db;
  const params = Type.Object({ userId: Type.String({ pattern: '^usr_[0-9a-z]{26}$' }) });

  app.get(
    '/api/users/:userId/preferences',
    { config: { requireRole: ROLES }, schema: { tags: ['global'], params, response: { 200: Preferences, 404: ErrorBody } } },
    async (request) => {
      const { userId } = request.params;
      const orgId = request.principal!.orgId;
      if (!(await userState(app.atlas, orgId, userId)).user) throw notFound(`user ${userId}`);
      return (
        (await app.atlas.cache.read('user_preferences', userId, () => withTenant(db, orgId, (tx) => findPreferences(tx, userId)))) ??
        { userId, locale: 'en', timezone: 'UTC', theme: 'system', preferredRegion: null, updatedAt: null }
      );
    },
  );

  app.put(
    '/api/users/:userId/preferences',
    {
      config: { requireRole: ROLES },
      schema: {
        tags: ['global'],
        params,
        body: Type.Object(
          {
            locale: Type.Optional(Type.String({ pattern: '^[a-z]{2,3}(-[A-Z]{2})?$' })),
            timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$' })),
            theme: Type.Optional(Theme),
            preferredRegion: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Preferences, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const { userId } = request.params;
      const { preferredRegion, timezone } = request.body;
      if (preferredRegion && !findRegion(app.atlas.config.topology, preferredRegion)) {
        throw new AtlasError('ATLAS_ERR_VALIDATION', `body/preferredRegion: unknown region ${preferredRegion}`);
      }
      if (timezone && !isTimeZone(timezone)) throw new AtlasError('ATLAS_ERR_VALIDATION', `body/timezone: unknown time zone ${timezone}`);
      return withTenant(db, request.principal!.orgId, async (tx) => {
        if (!(await findLiveAppUser(tx, userId))) throw notFound(`user ${userId}`);
        return upsertPreferences(tx, userId, request.body);
      });
    },
  );
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
