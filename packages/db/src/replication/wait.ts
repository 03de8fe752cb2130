import { withClient } from './connection';
import type { MeshNode } from './mesh';

/**
 * Waits until every Atlas subscriber of every given region has confirmed the WAL each
 * region had written when the call started: what was committed before is applied
 * everywhere after. Read on the publishers (pg_replication_slots.confirmed_flush_lsn).
 * Rejects after timeoutMs naming the links still behind (a disabled subscription never
 * catches up).
 */
export async function waitForReplication(nodes: readonly MeshNode[], options: { timeoutMs?: number; pollMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  await Promise.all(
    nodes.map((node) =>
      withClient(node.adminUrl, async (c) => {
        const target = (await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
        for (;;) {
          const { rows } = await c.query<{ slot_name: string }>(
            `SELECT slot_name FROM pg_replication_slots
              WHERE slot_name LIKE 'atlas\\_sub\\_%' AND (confirmed_flush_lsn IS NULL OR confirmed_flush_lsn < $1::pg_lsn)`,
            [target],
          );
          if (rows.length === 0) return;
          if (Date.now() > deadline) {
            throw new Error(`replication from ${node.region} still behind after the timeout: ${rows.map((r) => r.slot_name).join(', ')}`);
          }
          await new Promise((r) => setTimeout(r, options.pollMs ?? 20));
        }
      }, 'atlas-replication-wait'),
    ),
  );
}
