import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AtlasError, notFound } from '@atlas/core';
import { deleteUser, findAppUserRow, findUser, insertUser, listUsers, updateUser, withTenant, type Role } from '@atlas/db';
import { emailBlindIndex, normalizeEmail, userIdFor } from '../../lib/blind-index';
import { DEFAULT_PAGE_SIZE, PageOf, PageQuery, decodeCursor, page } from '../../lib/pagination';
import { Email, ErrorBody, OrgIdParam, Timestamp } from '../../lib/schemas';
import { auditRead, auditRequest } from '../crm/crm-resource';

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const RoleSchema = Type.Union((['admin', 'agent', 'viewer', 'dpo'] as const).map((r) => Type.Literal(r)));
const FullName = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const Phone = Nullable(Type.String({ maxLength: 40, pattern: '^[0-9+() .-]*$' }));
const USER_ID = /^usr_[0-9a-z]{26}$/;

const User = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  role: Type.String(),
  email: Type.String(),
  fullName: Type.String(),
  phone: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/**
 * Users: the global app_user row holds ids, role and a keyed hash of the e-mail; the
 * personal fields live in user_profile, in the organization's home region only.
 */
export async function userRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = app.atlas.db;
  const key = app.atlas.config.blindIndexKey;
  const params = Type.Object({ orgId: OrgIdParam });
  const memberParams = Type.Object({ orgId: OrgIdParam, userId: Type.String({ pattern: USER_ID.source }) });
  const tags = ['crm'];

  app.post(
    '/api/orgs/:orgId/users',
    {
      config: { requireRole: 'admin' },
      schema: {
        tags,
        summary: 'Create a user of the organization (admin)',
        params,
        body: Type.Object({ email: Email, fullName: FullName, phone: Type.Optional(Phone), role: RoleSchema }, { additionalProperties: false }),
        response: { 201: User, 400: ErrorBody, 409: ErrorBody, 421: ErrorBody },
      },
    },
    async (request, reply) => {
      const { orgId } = request.params;
      const email = normalizeEmail(request.body.email);
      const id = userIdFor(key, orgId, email);
      const user = await withTenant(db, orgId, async (tx) => {
        const existing = await findAppUserRow(tx, id);
        if (existing && existing.tombstone === null) throw new AtlasError('ATLAS_ERR_CONFLICT', `a user with this e-mail already exists in ${orgId}`);
        await insertUser(tx, {
          id,
          orgId,
          role: request.body.role,
          emailHash: emailBlindIndex(key, email),
          email,
          fullName: request.body.fullName.trim(),
          phone: request.body.phone ?? null,
        });
        await auditRequest(request, tx, { orgId, action: 'create', entity: 'user', entityId: id, details: { role: request.body.role } });
        return findUser(tx, orgId, id);
      });
      return reply.code(201).send(user!);
    },
  );

  app.get(
    '/api/orgs/:orgId/users',
    {
      schema: {
        tags,
        params,
        querystring: Type.Object({ ...PageQuery, role: Type.Optional(RoleSchema) }, { additionalProperties: false }),
        response: { 200: PageOf(User), 400: ErrorBody, 421: ErrorBody },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE_SIZE;
      const { orgId } = request.params;
      const after = decodeCursor(request.query.cursor, USER_ID);
      const rows = await withTenant(db, orgId, (tx) => listUsers(tx, orgId, { limit, after, role: request.query.role as Role | undefined }));
      await auditRead(request, { orgId, action: 'list', entity: 'user', details: { count: Math.min(rows.length, limit) } });
      return page(rows, limit, (u) => u.id);
    },
  );

  app.get(
    '/api/orgs/:orgId/users/:userId',
    { schema: { tags, params: memberParams, response: { 200: User, 404: ErrorBody, 421: ErrorBody } } },
    async (request) => {
      const { orgId, userId } = request.params;
      const user = await withTenant(db, orgId, (tx) => findUser(tx, orgId, userId));
      if (!user) throw notFound(`user ${userId}`);
      await auditRead(request, { orgId, action: 'read', entity: 'user', entityId: userId });
      return user;
    },
  );

  app.patch(
    '/api/orgs/:orgId/users/:userId',
    {
      config: { requireRole: 'admin' },
      schema: {
        tags,
        params: memberParams,
        body: Type.Object({ fullName: Type.Optional(FullName), phone: Type.Optional(Phone), role: Type.Optional(RoleSchema) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: User, 400: ErrorBody, 404: ErrorBody, 421: ErrorBody },
      },
    },
    async (request) => {
      const { orgId, userId } = request.params;
      const user = await withTenant(db, orgId, async (tx) => {
        if (!(await findUser(tx, orgId, userId))) throw notFound(`user ${userId}`);
        await updateUser(tx, orgId, userId, { ...request.body, fullName: request.body.fullName?.trim() });
        await auditRequest(request, tx, { orgId, action: 'update', entity: 'user', entityId: userId, details: { fields: Object.keys(request.body) } });
        return findUser(tx, orgId, userId);
      });
      return user!;
    },
  );

  app.delete(
    '/api/orgs/:orgId/users/:userId',
    { config: { requireRole: 'admin' }, schema: { tags, params: memberParams, response: { 204: Type.Null(), 404: ErrorBody, 421: ErrorBody } } },
    async (request, reply) => {
      const { orgId, userId } = request.params;
      await withTenant(db, orgId, async (tx) => {
        if (!(await findUser(tx, orgId, userId))) throw notFound(`user ${userId}`);
        await deleteUser(tx, orgId, userId);
        await auditRequest(request, tx, { orgId, action: 'delete', entity: 'user', entityId: userId });
      });
      return reply.code(204).send(null);
    },
  );
}
