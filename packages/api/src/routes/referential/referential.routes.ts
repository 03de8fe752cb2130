import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { notFound } from '@atlas/core';
import { listKinds, listReferential, tombstoneReferential, upsertReferential } from '@atlas/db';
import { ErrorBody, Timestamp } from '../../lib/schemas';

const Kind = Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$' });
const Code = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' });
const Entry = Type.Object({
  kind: Type.String(),
  code: Type.String(),
  label: Type.String(),
  sortOrder: Type.Integer(),
  active: Type.Boolean(),
  originRegion: Type.String(),
  updatedAt: Timestamp,
});

/** Reference data (property types, statuses, …): global, the same in every region. */
export async function referentialRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = app.atlas.db;
  const tags = ['global'];

  app.get(
    '/api/referential',
    { schema: { tags, summary: 'Kinds of reference data', response: { 200: Type.Object({ kinds: Type.Array(Type.Object({ kind: Type.String(), count: Type.Integer() })) }) } } },
    async () => ({ kinds: (await listKinds(db)).map((k) => ({ kind: k.kind, count: Number(k.count) })) }),
  );

  app.get(
    '/api/referential/:kind',
    {
      schema: {
        tags,
        params: Type.Object({ kind: Kind }),
        querystring: Type.Object({ includeInactive: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: Type.Object({ kind: Type.String(), items: Type.Array(Entry) }), 400: ErrorBody },
      },
    },
    async (request) => {
      const { kind } = request.params;
      const includeInactive = request.query.includeInactive ?? false;
      // Cached per kind (every change notifies with the kind as its key); inactive entries on request.
      const all = (await app.atlas.cache.read('referential', kind, () => listReferential(db, kind, { includeInactive: true }))) ?? [];
      return { kind, items: includeInactive ? all : all.filter((e) => e.active) };
    },
  );

  app.put(
    '/api/referential/:kind/:code',
    {
      // Region-wide reference data: operator admins only.
      config: { requireRole: 'admin' },
      schema: {
        tags,
        params: Type.Object({ kind: Kind, code: Code }),
        body: Type.Object(
          { label: Type.String({ minLength: 1, maxLength: 200 }), sortOrder: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })), active: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 200: Entry, 400: ErrorBody },
      },
    },
    async (request) => upsertReferential(db, { ...request.params, ...request.body }),
  );

  app.delete(
    '/api/referential/:kind/:code',
    { config: { requireRole: 'admin' }, schema: { tags, params: Type.Object({ kind: Kind, code: Code }), response: { 204: Type.Null(), 404: ErrorBody } } },
    async (request, reply) => {
      if (!(await tombstoneReferential(db, request.params.kind, request.params.code))) {
        throw notFound(`referential entry ${request.params.kind}:${request.params.code}`);
      }
      return reply.code(204).send(null);
    },
  );
}
