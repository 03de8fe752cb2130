import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AtlasError, findRegion } from '@atlas/core';
import { disableSubscription, enableSubscription, resyncSubscription } from '@atlas/db';
import { DEFAULT_PAGE_SIZE, PageOf, PageQuery, decodeCursor, page } from '../../lib/pagination';
import { ErrorBody, Timestamp } from '../../lib/schemas';
import { ReplicationMonitor } from './replication-monitor';

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const Subscription = Type.Object({
  subscription: Type.String(),
  region: Type.String(),
  peerRegion: Type.String(),
  enabled: Type.Boolean(),
  workerState: Type.String(),
  lastMsgSendTime: Nullable(Timestamp),
  lastMsgReceiptTime: Nullable(Timestamp),
  lagSeconds: Nullable(Type.Number()),
  lagBytes: Nullable(Type.Number()),
  applyErrorCount: Type.Number(),
  syncErrorCount: Type.Number(),
  conflicts: Type.Number(),
  publisher: Type.Object({ reachable: Type.Boolean(), slotActive: Nullable(Type.Boolean()), walStatus: Nullable(Type.String()), error: Type.Optional(Type.String()) }),
});

const Conflict = Type.Object({
  id: Type.String(),
  tableName: Type.String(),
  rowId: Type.String(),
  kind: Type.String(),
  decision: Type.String(),
  localOrigin: Nullable(Type.String()),
  remoteOrigin: Nullable(Type.String()),
  localHlc: Nullable(Type.String()),
  remoteHlc: Nullable(Type.String()),
  localRow: Type.Unknown(),
  remoteRow: Type.Unknown(),
  detectedAt: Timestamp,
});

const admin = { requireRole: 'admin' } as const;

/**
 * Replication status and management (the seed's region-health and replication endpoints).
 * Status and actions need the region's superuser URL (ATLAS_ADMIN_DATABASE_URL): without
 * it they answer 503 and say why; the conflict log is readable by the API role.
 */
export async function replicationRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const { config, metrics } = app.atlas;
  const { db } = app.atlas.db;
  const monitor = config.adminDatabaseUrl
    ? new ReplicationMonitor({ region: config.region.id, adminUrl: config.adminDatabaseUrl, db, registry: metrics.registry, lagAlertSeconds: config.replicationLagAlertSeconds, log: app.log })
    : undefined;
  if (monitor) {
    app.addHook('onReady', async () => monitor.start(config.replicationPollMs));
    app.addHook('onClose', async () => monitor.stop());
  }
  const requireMonitor = (): ReplicationMonitor => {
    if (!monitor) throw new AtlasError('ATLAS_ERR_NOT_READY', 'replication management is not configured in this region (no ATLAS_ADMIN_DATABASE_URL)');
    return monitor;
  };
  const peerParam = Type.Object({ peer: Type.String({ pattern: '^[a-z]{2}-[a-z]+-[0-9]$' }) });
  const requirePeer = (peer: string) => {
    if (!findRegion(config.topology, peer) || peer === config.region.id) throw new AtlasError('ATLAS_ERR_NOT_FOUND', `no subscription from ${peer} in ${config.region.id}`);
    return requireMonitor();
  };

  app.get(
    '/api/regions/replication',
    {
      config: admin,
      schema: {
        tags: ['regions'],
        summary: 'Every subscription of this region: peer, state, lag, errors, conflicts (live)',
        response: { 200: Type.Object({ region: Type.String(), polledAt: Timestamp, subscriptions: Type.Array(Subscription) }), 503: ErrorBody },
      },
    },
    async () => {
      const subscriptions = await requireMonitor().poll();
      return { region: config.region.id, polledAt: new Date(), subscriptions };
    },
  );

  app.get(
    '/api/replication/conflicts',
    {
      config: admin,
      schema: {
        tags: ['regions'],
        summary: 'Resolved replication conflicts in this region, newest first, both row images',
        querystring: Type.Object({ ...PageQuery, table: Type.Optional(Type.String({ pattern: '^[a-z_]{1,63}$' })) }, { additionalProperties: false }),
        response: { 200: PageOf(Conflict), 400: ErrorBody },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE_SIZE;
      const before = decodeCursor(request.query.cursor, /^[0-9]{1,19}$/);
      let query = db
        .selectFrom('replicationConflict')
        .select(['id', 'tableName', 'rowId', 'kind', 'decision', 'localOrigin', 'remoteOrigin', 'localHlc', 'remoteHlc', 'localRow', 'remoteRow', 'detectedAt']);
      if (request.query.table) query = query.where('tableName', '=', request.query.table);
      if (before) query = query.where('id', '<', before);
      const rows = await query.orderBy('id', 'desc').limit(limit + 1).execute();
      return page(rows, limit, (r) => String(r.id));
    },
  );

  for (const action of ['disable', 'enable', 'resync'] as const) {
    app.post(
      `/api/replication/subscriptions/:peer/${action}`,
      {
        config: admin,
        schema: {
          tags: ['regions'],
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} the subscription that brings the peer's global changes here`,
          params: peerParam,
          response: { 200: Type.Object({ subscription: Type.String(), action: Type.String(), detail: Type.Unknown() }), 404: ErrorBody, 503: ErrorBody },
        },
      },
      async (request) => {
        const { peer } = request.params;
        requirePeer(peer);
        const adminUrl = config.adminDatabaseUrl!;
        const result =
          action === 'disable' ? await disableSubscription(adminUrl, peer) : action === 'enable' ? await enableSubscription(adminUrl, peer) : await resyncSubscription(adminUrl, peer);
        request.log.info({ peer, action }, 'replication subscription changed by an operator');
        return { subscription: result.subscription, action, detail: result };
      },
    );
  }
}
