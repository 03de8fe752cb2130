import { listOrganizations, purgeExpired, withTenant, recordAudit, type PurgeCounts } from '@atlas/db';
import type { AppContext } from '../context';

export interface PurgeReport {
  readonly region: string;
  readonly ranAt: string;
  readonly policy: AppContext['config']['security']['retention'];
  readonly organizations: ReadonlyArray<{ orgId: string } & Omit<PurgeCounts, 'documentIds'>>;
  readonly totals: Omit<PurgeCounts, 'documentIds'>;
}

/**
 * The retention purge for the organizations homed in this region (or the ones given): each
 * under its own tenant, document bodies removed with the rows (before the commit), one audit event per
 * organization with the counts. Returns the report.
 */
export async function runRetentionPurge(ctx: AppContext, now: Date = new Date(), only?: readonly string[]): Promise<PurgeReport> {
  const { db } = ctx.db;
  const policy = ctx.config.security.retention;
  let orgIds = only ? [...only] : [];
  if (!only) {
    let after: string | undefined;
    for (;;) {
      const batch = await listOrganizations(db, { limit: 500, after, homeRegion: ctx.config.region.id });
      orgIds.push(...batch.slice(0, 500).map((o) => o.id));
      if (batch.length <= 500) break;
      after = batch[499]!.id;
    }
  }
  orgIds = [...new Set(orgIds)];
  const organizations: Array<{ orgId: string } & Omit<PurgeCounts, 'documentIds'>> = [];
  const totals = { dossier: 0, activity: 0, document: 0, privacyExport: 0 };
  for (const orgId of orgIds) {
    const counts = await withTenant(db, orgId, async (tx) => {
      const purged = await purgeExpired(tx, orgId, policy, now);
      // Before the commit: if the store cannot remove a body, this organization's purge rolls
      // back and the next run retries it, rather than orphaning bodies no row points to.
      for (const id of purged.documentIds) await ctx.documents.delete(orgId, id);
      const { documentIds: _bodies, ...numbers } = purged;
      if (Object.values(numbers).some((n) => n > 0)) {
        await recordAudit(tx, { orgId, actor: 'system:retention', action: 'purge', entity: 'retention', details: { ...numbers } });
      }
      return purged;
    });
    const { documentIds: _ids, ...numbers } = counts;
    organizations.push({ orgId, ...numbers });
    for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += numbers[key];
  }
  return { region: ctx.config.region.id, ranAt: now.toISOString(), policy, organizations, totals };
}
