import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { RegionConfig, Topology } from '@atlas/core';
import { databaseUrl, loadOrCreateSecrets, regionDir } from '@atlas/db';
import { renderTable } from '../table';
import { callJson } from '../http';
import { checkBuckets, type RegionBuckets } from './residency-buckets';

/** The tables that must never leave their home region (rule R1). */
export const REGIONAL_TABLES = ['dossier', 'annonce', 'document', 'activity', 'user_profile', 'audit_event', 'privacy_request', 'erasure_ledger'] as const;

export interface Check {
  readonly place: string;
  readonly region: string;
  readonly status: 'ok' | 'LEAK' | 'skipped';
  readonly detail: string;
}

interface Canary {
  readonly region: RegionConfig;
  readonly marker: string;
  readonly orgId: string;
  /** A document whose body (the marker's text) the API seals into the region's body store. */
  readonly documentId: string;
}

type Log = (line: string) => void;

const call = callJson;

const api = (r: RegionConfig) => `http://127.0.0.1:${r.apiPort}`;

/** Plants one canary subject in a region through its API: a user, a dossier, an activity, a document with a body, a read. */
async function plant(region: RegionConfig): Promise<Canary & { token: string }> {
  const marker = `atlas-canary-${region.code}-${randomBytes(6).toString('hex')}`;
  // The organization row is global by design: it carries no marker.
  const org = await call<{ id: string }>('POST', `${api(region)}/api/orgs`, { name: `residency canary ${region.code}`, homeRegion: region.id });
  const email = `${marker}@residency.invalid`;
  const { token } = await call<{ token: string }>('POST', `${api(region)}/api/auth/dev-token`, { orgId: org.id, email });
  const base = `${api(region)}/api/orgs/${org.id}`;
  await call('POST', `${base}/users`, { email, fullName: `Canary ${marker}`, role: 'admin' }, token);
  const dossier = await call<{ id: string }>('POST', `${base}/dossiers`, { title: `Canary dossier ${marker}`, clientName: `Client ${marker}`, clientEmail: email }, token);
  await call('POST', `${base}/activities`, { kind: 'note', subject: `Canary note ${marker}`, body: marker, dossierId: dossier.id }, token);
  const document = await call<{ id: string }>('POST', `${base}/documents`, { filename: `canary-${marker}.txt`, dossierId: dossier.id }, token);
  const upload = await fetch(`${base}/documents/${document.id}/content`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
    body: `Canary document body ${marker}`,
    signal: AbortSignal.timeout(10_000),
  });
  if (!upload.ok) throw new Error(`PUT ${base}/documents/${document.id}/content → ${upload.status}: ${await upload.text()}`);
  await call('GET', `${base}/dossiers/${dossier.id}`, undefined, token);
  return { region, marker, orgId: org.id, documentId: document.id, token };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: 'atlas-residency-verify' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Every table of a database, searched for the markers as text. */
async function scanDatabase(c: pg.Client, markers: readonly string[]): Promise<Map<string, string[]>> {
  const hits = new Map<string, string[]>();
  const { rows: tables } = await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  for (const { t } of tables) {
    const { rows } = await c.query<{ n: string }>(`SELECT DISTINCT n FROM unnest($1::text[]) n JOIN "${t}" x ON x::text LIKE '%' || n || '%'`, [markers]);
    if (rows.length > 0) hits.set(t, rows.map((r) => r.n));
  }
  return hits;
}

async function filesUnder(dir: string, skip: (path: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const path = join(dir, e.name);
    if (skip(path)) continue;
    if (e.isDirectory()) out.push(...(await filesUnder(path, skip)));
    else if (e.isFile()) out.push(path);
  }
  return out;
}

/**
 * `atlas residency verify`: on a running cluster, plants canary rows in every region and
 * checks, place by place, that no canary is anywhere but in its home region's database:
 * the other regions' databases (every table), publication membership, what the logical
 * replication streams carry (decoded from a probe slot), the API log files and every other
 * file under each region's directory (exports, backups, documents), each region's cache, and,
 * when the regions keep document bodies in S3 buckets (`buckets`), every bucket
 * (residency-buckets.ts). Returns the checks; any LEAK makes the command exit non-zero.
 */
export async function residencyVerify(options: { home: string; topology: Topology; log: Log; json?: boolean; buckets?: RegionBuckets }): Promise<{ code: number; checks: Check[] }> {
  const { home, topology, log } = options;
  const secrets = await loadOrCreateSecrets(home, topology.regions.map((r) => r.id));
  const adminUrl = (r: RegionConfig) => databaseUrl('postgres', secrets.superuserPassword, r.dbPort);
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);

  // Probe slots first, so that they see the canaries' writes: what a subscriber would receive.
  const probes = new Map<string, { client: pg.Client; slot: string; publications: string[] }>();
  for (const region of topology.regions) {
    const client = new pg.Client({ connectionString: adminUrl(region), application_name: 'atlas-residency-probe' });
    await client.connect();
    const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
    const { rows: pubs } = await client.query<{ pubname: string }>('SELECT pubname FROM pg_publication ORDER BY 1');
    if (rows[0]?.wal_level !== 'logical' || pubs.length === 0) {
      add({ place: 'replication stream', region: region.id, status: 'skipped', detail: rows[0]?.wal_level !== 'logical' ? 'wal_level is not logical: nothing is replicated' : 'no publication: nothing is replicated' });
      await client.end();
      continue;
    }
    const slot = `atlas_residency_${randomBytes(4).toString('hex')}`;
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput', true)", [slot]);
    probes.set(region.id, { client, slot, publications: pubs.map((p) => p.pubname) });
  }

  const canaries: Array<Canary & { token: string }> = [];
  // Objects written from here on are read in full by the bucket check (a copy may be renamed).
  const since = new Date(Date.now() - 60_000);
  try {
    for (const region of topology.regions) canaries.push(await plant(region));
    log(`planted ${canaries.length} canaries: ${canaries.map((c) => `${c.region.id} (${c.orgId})`).join(', ')}`);
    const markers = canaries.map((c) => c.marker);
    const homeOf = (marker: string) => canaries.find((c) => c.marker === marker)!.region;
    const describe = (ms: readonly string[]) => ms.map((m) => `canary of ${homeOf(m).id} (${homeOf(m).jurisdiction})`).join(', ');

    for (const region of topology.regions) {
      // 1. Every table of this region's database: only its own canary may be there.
      await withClient(adminUrl(region), async (c) => {
        const hits = await scanDatabase(c, markers);
        const foreign = [...hits].map(([t, ms]) => [t, ms.filter((m) => homeOf(m).id !== region.id)] as const).filter(([, ms]) => ms.length > 0);
        for (const [t, ms] of foreign) add({ place: `database ${region.id}: table ${t}`, region: region.id, status: 'LEAK', detail: describe(ms) });
        if (foreign.length === 0) add({ place: 'database (every table)', region: region.id, status: 'ok', detail: `${hits.size} tables hold only this region's canary` });
        // 2. Publication membership: no regional table, no FOR ALL TABLES publication.
        const { rows: members } = await c.query<{ pubname: string; tablename: string }>('SELECT pubname, tablename FROM pg_publication_tables WHERE tablename = ANY($1) ORDER BY 1, 2', [REGIONAL_TABLES]);
        const { rows: all } = await c.query<{ pubname: string }>('SELECT pubname FROM pg_publication WHERE puballtables');
        for (const m of members) add({ place: `publication ${m.pubname} on ${region.id}: table ${m.tablename}`, region: region.id, status: 'LEAK', detail: 'a regional table is published to other regions' });
        for (const p of all) add({ place: `publication ${p.pubname} on ${region.id}`, region: region.id, status: 'LEAK', detail: 'FOR ALL TABLES publishes regional tables' });
        if (members.length === 0 && all.length === 0) add({ place: 'publications', region: region.id, status: 'ok', detail: 'no regional table is published' });
      });
      // 3. What the replication stream carries out of this region.
      const probe = probes.get(region.id);
      if (probe) {
        const { rows } = await probe.client.query<{ data: Buffer }>(
          "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)",
          [probe.slot, probe.publications.join(',')],
        );
        const stream = Buffer.concat(rows.map((r) => r.data));
        const carried = markers.filter((m) => stream.includes(Buffer.from(m)));
        if (carried.length > 0) add({ place: `replication stream from ${region.id} (${probe.publications.join(', ')})`, region: region.id, status: 'LEAK', detail: describe(carried) });
        else add({ place: 'replication stream', region: region.id, status: 'ok', detail: `${rows.length} decoded messages carry no canary` });
      }
      // 4. Files under the region's directory other than its database: logs, exports, backups, documents.
      const files = await filesUnder(regionDir(home, region.id), (p) => p === join(regionDir(home, region.id), 'pg'));
      let leaked = false;
      for (const file of files) {
        if ((await stat(file)).size > 64 * 1024 * 1024) continue;
        const content = await readFile(file);
        const found = markers.filter((m) => content.includes(Buffer.from(m)));
        if (found.length > 0) {
          leaked = true;
          add({ place: `file ${file.slice(home.length + 1)}`, region: region.id, status: 'LEAK', detail: `${describe(found)} in a log/export/backup file` });
        }
      }
      if (!leaked) add({ place: 'log, export and backup files', region: region.id, status: 'ok', detail: `${files.length} files hold no canary` });
      // 5. The region's cache (global rows only, by construction).
      try {
        const canary = canaries.find((c) => c.region.id === region.id) as (Canary & { token?: string }) | undefined;
        const probeResult = await call<{ kind: string; searched: boolean; found: string[] }>('POST', `${api(region)}/api/residency/cache-probe`, { needles: markers }, canary?.token);
        if (!probeResult.searched) add({ place: `cache (${probeResult.kind})`, region: region.id, status: 'skipped', detail: 'this cache cannot be searched' });
        else if (probeResult.found.length > 0) add({ place: `cache (${probeResult.kind}) of ${region.id}`, region: region.id, status: 'LEAK', detail: describe(probeResult.found) });
        else add({ place: `cache (${probeResult.kind})`, region: region.id, status: 'ok', detail: 'no canary cached' });
      } catch (err) {
        add({ place: 'cache', region: region.id, status: 'skipped', detail: (err as Error).message.slice(0, 120) });
      }
    }
    // 6. Document bodies in the regions' S3 buckets.
    if (options.buckets && Object.keys(options.buckets).length > 0) {
      for (const c of await checkBuckets({ topology, buckets: options.buckets, canaries, since })) add(c);
    }
  } finally {
    for (const probe of probes.values()) await probe.client.end().catch(() => undefined);
    // The canary documents through their API, so that their bodies leave the body store too.
    for (const c of canaries) {
      await call('DELETE', `${api(c.region)}/api/orgs/${c.orgId}/documents/${c.documentId}`, undefined, c.token).catch(() => undefined);
    }
    // Canaries are test data: removed from their home databases (the audit trail keeps their ids).
    for (const c of canaries) {
      await withClient(adminUrl(c.region), async (db) => {
        for (const t of ['activity', 'document', 'dossier', 'user_profile', 'privacy_request']) await db.query(`DELETE FROM ${t} WHERE org_id = $1`, [c.orgId]);
      }).catch(() => undefined);
    }
  }

  const leaks = checks.filter((c) => c.status === 'LEAK');
  if (options.json) log(JSON.stringify({ ok: leaks.length === 0, checks }, null, 2));
  else {
    log(renderTable(['region', 'place', 'status', 'detail'], checks.map((c) => [c.region, c.place, c.status, c.detail])));
    log(leaks.length === 0 ? 'residency verified: no canary left its home region' : `RESIDENCY LEAK at ${leaks.map((l) => l.place).join('; ')}`);
  }
  return { code: leaks.length === 0 ? 0 : 1, checks };
}
