import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { headVersion } from '@atlas/db';

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  const head = headVersion();
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up' } }, async () => ({
    status: 'ok',
    region: app.atlas.config.region.id,
  }));

  app.get('/readyz', { schema: { tags: ['operations'], summary: 'The database is reachable and migrated to head' } }, async (_request, reply) => {
    const region = app.atlas.config.region.id;
    try {
      const { rows } = await sql<{ version: number | null }>`SELECT max(version)::int AS version FROM schemaversion`.execute(app.atlas.db.db);
      const version = rows[0]?.version ?? 0;
      const ready = version >= head;
      return reply.code(ready ? 200 : 503).send({ ready, region, database: 'reachable', migration: { version, head } });
    } catch (err) {
      return reply.code(503).send({ ready: false, region, database: 'unreachable', reason: (err as Error).message });
    }
  });
}
