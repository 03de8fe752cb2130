import type { Topology } from '@atlas/core';
import { createDb, databaseUrl, loadOrCreateSecrets, verifyAuditTrail, type AuditTrailReport } from '@atlas/db';
import { renderTable } from '../table';

/**
 * `atlas audit verify`: walks every region's audit hash chain and checks its signed
 * checkpoints, as the superuser of each regional database. Names the first broken or missing
 * link (region, seq, event id) and exits non-zero on any.
 */
export async function auditVerify(options: { home: string; topology: Topology; json: boolean; log: (line: string) => void }): Promise<number> {
  const secrets = await loadOrCreateSecrets(options.home, options.topology.regions.map((r) => r.id));
  const reports: Array<{ region: string } & (AuditTrailReport | { ok: false; error: string })> = [];
  for (const region of options.topology.regions) {
    const db = createDb(databaseUrl('postgres', secrets.superuserPassword, region.dbPort), { max: 1, applicationName: 'atlas-audit-verify' });
    try {
      reports.push({ region: region.id, ...(await verifyAuditTrail(db.db, secrets.auditSigningKey)) });
    } catch (err) {
      reports.push({ region: region.id, ok: false, error: (err as Error).message });
    } finally {
      await db.destroy();
    }
  }
  if (options.json) {
    options.log(JSON.stringify({ ok: reports.every((r) => r.ok), regions: reports }, null, 2));
  } else {
    options.log(
      renderTable(
        ['region', 'events', 'checkpoints', 'verdict'],
        reports.map((r) => {
          if ('error' in r) return [r.region, '-', '-', `cannot verify: ${r.error}`];
          const verdict = r.ok
            ? 'intact'
            : r.broken
              ? `BROKEN at seq ${r.broken.seq} (event ${r.broken.id ?? 'missing'}): ${r.broken.reason}`
              : `BROKEN: checkpoint ${r.badCheckpoint!.id} at seq ${r.badCheckpoint!.seq}: ${r.badCheckpoint!.reason}`;
          return [r.region, String(r.checked), String(r.checkpoints), verdict];
        }),
      ),
    );
  }
  return reports.every((r) => r.ok) ? 0 : 1;
}
