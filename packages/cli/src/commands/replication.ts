import { readFile } from 'node:fs/promises';
import Type from 'typebox';
import { Value } from 'typebox/value';
import type { Topology } from '@atlas/core';
import { databaseUrl, loadOrCreateSecrets, repairGlobalTables, replicationStatus, setupMesh, type MeshNode } from '@atlas/db';
import { renderTable } from '../table';

const DeploymentSchema = Type.Object(
  {
    regions: Type.Array(
      Type.Object(
        {
          region: Type.String({ minLength: 1 }),
          adminUrl: Type.String({ pattern: '^postgres(ql)?://' }),
          /** Where the other regions reach this one's database, when not the adminUrl's host. */
          publicEndpoint: Type.Optional(Type.Object({ host: Type.String({ minLength: 1 }), port: Type.Integer({ minimum: 1, maximum: 65535 }) })),
        },
        { additionalProperties: false },
      ),
      { minItems: 2 },
    ),
    conninfoExtra: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  { additionalProperties: false },
);

/** The regions to act on: from a deployment file (a real deployment), else the local cluster. */
export async function meshNodes(options: { home: string; topology: Topology; configPath?: string }) {
  if (options.configPath) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(options.configPath, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read ${options.configPath}: ${(err as Error).message}`);
    }
    const first = Value.Errors(DeploymentSchema, raw)[0];
    if (first) throw new Error(`${options.configPath}: ${first.instancePath || '(root)'}: ${first.message}`);
    const config = raw as Type.Static<typeof DeploymentSchema>;
    const endpoints = new Map(config.regions.map((r) => [r.region, r.publicEndpoint]));
    return {
      nodes: config.regions.map((r): MeshNode => ({ region: r.region, adminUrl: r.adminUrl })),
      endpoint: (link: { from: string; to: string }) => endpoints.get(link.from),
      conninfoExtra: config.conninfoExtra,
    };
  }
  const secrets = await loadOrCreateSecrets(options.home, options.topology.regions.map((r) => r.id));
  return {
    nodes: options.topology.regions.map((r): MeshNode => ({ region: r.id, adminUrl: databaseUrl('postgres', secrets.superuserPassword, r.dbPort) })),
    endpoint: undefined,
    conninfoExtra: undefined,
  };
}

/** `atlas replication setup [--config file]`: publications and the full mesh, idempotently. */
export async function replicationSetup(options: { home: string; topology: Topology; configPath?: string; log: (l: string) => void }): Promise<number> {
  const { nodes, endpoint, conninfoExtra } = await meshNodes(options);
  const report = await setupMesh(nodes, { ...(endpoint ? { endpoint } : {}), ...(conninfoExtra ? { conninfoExtra } : {}) });
  options.log(renderTable(['region', 'step', 'name', 'status', 'detail'], report.steps.map((s) => [s.region, s.step, s.name, s.status, s.detail ?? ''])));
  if (report.initialSync) options.log(`initial sync: ${report.initialSync.rowsRepaired} rows reconciled across ${report.initialSync.pairs.length} pairs`);
  options.log(report.ok ? 'replication mesh ready' : 'replication set-up FAILED');
  return report.ok ? 0 : 1;
}

/** `atlas replication repair`: the anti-entropy pass over every pair of regions. */
export async function replicationRepair(options: { home: string; topology: Topology; configPath?: string; log: (l: string) => void }): Promise<number> {
  const { nodes } = await meshNodes(options);
  const started = Date.now();
  const report = await repairGlobalTables(nodes);
  const rows = report.pairs.flatMap((p) =>
    p.error ? [[`${p.a} ↔ ${p.b}`, '(all)', '-', '-', `FAILED: ${p.error}`]] : p.tables.map((t) => [`${p.a} ↔ ${p.b}`, t.table, String(t.rowsCompared), String(t.bucketsDiffering), String(t.pulledToA + t.pulledToB)]),
  );
  options.log(renderTable(['pair', 'table', 'rows compared', 'buckets differing', 'rows repaired'], rows));
  options.log(`repair pass done in ${Date.now() - started} ms: ${report.rowsRepaired} rows repaired${report.ok ? '' : ' — some pairs FAILED'}`);
  return report.ok ? 0 : 1;
}

/** `atlas replication status [--json]`: every subscription of every region. */
export async function replicationStatusCommand(options: { home: string; topology: Topology; configPath?: string; json: boolean; log: (l: string) => void }): Promise<number> {
  const { nodes } = await meshNodes(options);
  const all = (await Promise.all(nodes.map((n) => replicationStatus(n.adminUrl)))).flat();
  if (options.json) {
    options.log(JSON.stringify({ subscriptions: all }, null, 2));
  } else {
    options.log(
      renderTable(
        ['region', 'from', 'enabled', 'state', 'lag s', 'lag bytes', 'errors', 'conflicts'],
        all.map((s) => [s.region, s.peerRegion, s.enabled ? 'yes' : 'no', s.workerState, s.lagSeconds?.toFixed(3) ?? '?', String(s.lagBytes ?? '?'), String(s.applyErrorCount), String(s.conflicts)]),
      ),
    );
  }
  return all.every((s) => s.enabled && s.applyErrorCount === 0) ? 0 : 1;
}
