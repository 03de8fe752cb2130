import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { RegionConfig } from '@atlas/core';

export async function registerOpenApi(app: FastifyInstance, region: RegionConfig): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Atlas regional API',
        version: '0.1.0',
        description:
          `Served by ${region.id} (${region.displayName}, jurisdiction ${region.jurisdiction}). ` +
          'Organization ids name their home region; a request for another region\'s organization gets 421 with an Atlas-Region header.',
      },
      tags: [
        { name: 'organizations' },
        { name: 'crm', description: 'Regional data: served only by the organization\'s home region' },
        { name: 'global', description: 'Replicated data: served by every region' },
        { name: 'regions' },
        { name: 'operations' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
