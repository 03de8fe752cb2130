import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AtlasError, notFound } from '@atlas/core';
import { deleteUser, findAppUserRow, findUser, insertUser, listUsers, recordAudit, updateUser, type Role } from '@atlas/db';
import { emailBlindIndex, normalizeEmail, userIdFor } from '../../lib/blind-index';
import { DEFAULT_PAGE_SIZE, PageOf, PageQuery, decodeCursor, page } from '../../lib/pagination';
import { Email, ErrorBody, OrgIdParam, Timestamp } from '../../lib/schemas';
import { actorOf } from '../crm/crm-resource';

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
      schema: {
        tags,
        summary: 'Create a user of the organization',
        params,
        body: Type.Object({ email: Email, fullName: FullName, phone: Type.Optional(Phone), role: RoleSchema }, { additionalProperties: false }),
        response: { 201: User, 400: ErrorBody, 409: ErrorBody, 421: ErrorBody },
      },
    },
    async (request, reply) => {
      const { orgId } = request.params;
      const email = normalizeEmail(request.body.email);
      const id = userIdFor(key, orgId, email);
      const user = await db.transaction().execute(async (tx) => {
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
        await recordAudit(tx, { orgId, actor: actorOf(request), action: 'create', entity: 'user', entityId: id, sourceIp: request.ip, requestId: request.id });
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
      const rows = await listUsers(db, request.params.orgId, { limit, after: decodeCursor(request.query.cursor, USER_ID), role: request.query.role as Role | undefined });
      return page(rows, limit, (u) => u.id);
    },
  );

  app.get(
    '/api/orgs/:orgId/users/:userId',
    { schema: { tags, params: memberParams, response: { 200: User, 404: ErrorBody, 421: ErrorBody } } },
    async (request) => {
      const user = await findUser(db, request.params.orgId, request.params.userId);
      if (!user) throw notFound(`user ${request.params.userId}`);
      return user;
    },
  );

  app.patch(
    '/api/orgs/:orgId/users/:userId',
    {
      schema: {
        tags,
        params: memberParams,
        body: Type.Object({ fullName: Type.Optional(FullName), phone: Type.Optional(Phone), role: Type.Optional(RoleSchema) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: User, 400: ErrorBody, 404: ErrorBody, 421: ErrorBody },
      },
    },
    async (request) => {
      const { orgId, userId } = request.params;
      const user = await db.transaction().execute(async (tx) => {
        if (!(await findUser(tx, orgId, userId))) throw notFound(`user ${userId}`);
        await updateUser(tx, orgId, userId, { ...request.body, fullName: request.body.fullName?.trim() });
        await recordAudit(tx, { orgId, actor: actorOf(request), action: 'update', entity: 'user', entityId: userId, sourceIp: request.ip, requestId: request.id });
        return findUser(tx, orgId, userId);
      });
      return user!;
    },
  );

  app.delete(
    '/api/orgs/:orgId/users/:userId',
    { schema: { tags, params: memberParams, response: { 204: Type.Null(), 404: ErrorBody, 421: ErrorBody } } },
    async (request, reply) => {
      const { orgId, userId } = request.params;
      await db.transaction().execute(async (tx) => {
        if (!(await findUser(tx, orgId, userId))) throw notFound(`user ${userId}`);
        await deleteUser(tx, orgId, userId);
        await recordAudit(tx, { orgId, actor: actorOf(request), action: 'delete', entity: 'user', entityId: userId, sourceIp: request.ip, requestId: request.id });
      });
      return reply.code(204).send(null);
    },
  );
}
