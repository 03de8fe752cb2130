import type { FastifyInstance } from 'fastify';
import { writeAuditCheckpoint } from '@atlas/db';
import { registerAuth } from '../auth/auth.plugin';
import { TokenVerifier } from '../auth/tokens';
import type { AppContext } from '../context';
import { AuditBatcher } from '../lib/audit-batcher';
import { runRetentionPurge } from '../lib/retention';
import { auditVerifyRoutes } from '../routes/audit-events/audit-verify.routes';
import { devTokenRoutes } from '../routes/auth/dev-token.routes';
import { privacyRoutes } from '../routes/privacy/privacy.routes';
import { residencyProbeRoutes } from '../routes/residency/residency.routes';
import { retentionRoutes } from '../routes/retention/retention.routes';
import { registerHardening } from './hardening.plugin';
import { AUDIT_BATCH_MAX, AUDIT_QUEUE_MAX } from './security-config';
import { auditBatcherMetrics, rateLimitFallbackMetric } from './security-metrics';

declare module 'fastify' {
  interface FastifyInstance {
    /** Group commit of read-audit events (lib/audit-batcher.ts). */
    auditReads: AuditBatcher;
  }
}

/**
 * Everything issue 5 adds to an app, in one call made before any route is registered:
 * rate limits, security headers and CORS, authentication/authorization for every route that
 * follows, the dev sign-in route, and the periodic audit checkpoint and retention purge.
 */
export async function registerSecurity(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { security } = ctx.config;
  const verifier = await TokenVerifier.create(security.authPublicKey, ctx.config.topology);
  const limitOrganization = registerHardening(app, security, {
    region: ctx.config.region.id,
    verifiedOrgOf: (token, nowMs) => verifier.verifiedOrgOf(token, nowMs),
    ...(ctx.config.redisUrl ? { redisUrl: ctx.config.redisUrl } : {}),
    onRedisFallback: rateLimitFallbackMetric(ctx.metrics.registry, ctx.config.region.id, (err) => app.log.warn({ err }, 'rate limit: Redis did not answer; this process decided alone')),
  });
  const auditReads = new AuditBatcher(
    ctx.db,
    { maxPending: security.auditQueueMax ?? AUDIT_QUEUE_MAX, maxBatch: security.auditBatchMax ?? AUDIT_BATCH_MAX },
    auditBatcherMetrics(ctx.metrics.registry, ctx.config.region.id, (err) => app.log.error({ err }, 'a read-audit batch failed; its reads were refused')),
  );
  app.decorate('auditReads', auditReads);
  await registerAuth(app, ctx, limitOrganization, verifier);
  await app.register(devTokenRoutes);
  await app.register(residencyProbeRoutes);

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, what: string, job: () => Promise<unknown>) => {
    if (ms <= 0) return;
    const timer = setInterval(() => void job().catch((err: unknown) => app.log.warn({ err }, `${what} failed; next attempt in ${ms} ms`)), ms);
    timer.unref();
    timers.push(timer);
  };
  app.addHook('onReady', async () => {
    every(security.auditCheckpointMs, 'audit checkpoint', () => writeAuditCheckpoint(ctx.db.db, security.auditSigningKey));
    every(security.purgeIntervalMs, 'retention purge', async () => {
      if (Object.keys(security.retention).length === 0) return;
      const report = await runRetentionPurge(ctx);
      app.log.info({ retention: report.totals, organizations: report.organizations.length }, 'retention purge done');
    });
  });
  app.addHook('onClose', async () => {
    for (const timer of timers) clearInterval(timer);
    await auditReads.close();
  });
}

/** The regional routes issue 5 adds; registered inside the residency-guarded scope. */
export async function securityRegionalRoutes(regional: FastifyInstance): Promise<void> {
  await regional.register(privacyRoutes);
  await regional.register(auditVerifyRoutes);
  await regional.register(retentionRoutes);
}
