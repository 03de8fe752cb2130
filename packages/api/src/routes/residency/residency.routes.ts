import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody } from '../../lib/schemas';

/**
 * The residency proof's view into this process: whether any of the given canary strings sits
 * in the region's cache. Operator admins only; answers which needles were found, nothing else.
 */
export async function residencyProbeRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/api/residency/cache-probe',
    {
      config: { requireRole: 'admin' },
      schema: {
        tags: ['operations'],
        summary: "Which canary strings the region's cache holds (residency verification)",
        body: Type.Object({ needles: Type.Array(Type.String({ minLength: 8, maxLength: 200 }), { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ region: Type.String(), kind: Type.String(), searched: Type.Boolean(), found: Type.Array(Type.String()) }), 403: ErrorBody },
      },
    },
    async (request) => {
      const store = app.atlas.cache.store;
      const found = store.search ? await store.search(request.body.needles) : [];
      return { region: app.atlas.config.region.id, kind: store.kind, searched: store.search !== undefined, found };
    },
  );
}
