import type pg from 'pg';
import { endpointFromConninfo, endpointFromUrl, endpointToUrl, parseConninfo, toConninfo, withClient, type PgEndpoint } from './connection';
import { clusterRegion, globalTables } from './global-tables';
import { PUBLICATION_NAME, subscriptionName } from './names';
import { repairGlobalTables, repairPair, type PairRepair, type RepairReport } from './repair';

/** A region's database, as replication set-up reaches it (a superuser URL). */
export interface MeshNode {
  readonly region: string;
  readonly adminUrl: string;
}

/** Where a subscriber connects to reach a publisher: the publisher itself, or a WAN proxy. */
export interface LinkEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface MeshOptions {
  /**
   * The address subscriber `to` uses for publisher `from` (a latency-injecting proxy, say).
   * Undefined (or no function): the host and port of the publisher's adminUrl.
   */
  readonly endpoint?: (link: { readonly from: string; readonly to: string }) => LinkEndpoint | undefined;
  /** Extra libpq keywords for every link (sslmode=verify-full, sslrootcert=…, …). */
  readonly conninfoExtra?: Readonly<Record<string, string>>;
  /**
   * After creating any subscription, reconcile the global rows of every pair of regions
   * through the conflict rule (default true): a region that joins late receives the rows
   * that exist elsewhere, and gives its own, exactly once.
   */
  readonly initialSync?: boolean;
}

export type MeshStepStatus = 'created' | 'updated' | 'unchanged' | 'failed';

export interface MeshStep {
  readonly step: 'check-region' | 'publication' | 'subscription';
  /** The region where the step ran (the subscriber for a subscription). */
  readonly region: string;
  readonly name: string;
  readonly status: MeshStepStatus;
  readonly detail?: string;
}

export interface MeshReport {
  readonly ok: boolean;
  readonly steps: readonly MeshStep[];
  /** The reconciliation run because subscriptions were created; undefined when none was. */
  readonly initialSync?: RepairReport;
}

/**
 * Subscription options. origin = none: only changes made in the publisher itself travel,
 * so nothing loops. copy_data = false: existing rows travel through the conflict rule
 * instead (initialSync). failover = true: the slot follows the publisher's standby.
 * synchronous_commit = off: the apply worker does not wait for a WAL flush (and a
 * synchronous standby) at every applied transaction. A crash of the subscriber still loses
 * nothing: the worker confirms to the publisher only positions its WAL has flushed, and the
 * slot sends the rest again. What a failover to the subscriber's standby can lose (the
 * standby had not received it; with 'on' too when only the postmaster dies,
 * POSTGRES_FACTS.md) the anti-entropy pass restores, after every failover and on a schedule.
 * 'on' made the single apply worker wait for one flush per transaction: measured, it capped
 * apply throughput and, through the simulated WAN, turned bursts into queues (p95 lag
 * 0.7 s at 200 writes/s against 60 ms with 'off'; bench/replication.bench.ts).
 */
export const APPLY_SYNCHRONOUS_COMMIT = 'off';
const SUBSCRIPTION_OPTIONS = `origin = none, copy_data = false, failover = true, synchronous_commit = '${APPLY_SYNCHRONOUS_COMMIT}', streaming = 'on', disable_on_error = false`;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function ensurePublication(client: pg.Client, tables: readonly string[]): Promise<MeshStepStatus> {
  const list = tables.map((t) => client.escapeIdentifier(t)).join(', ');
  const { rows } = await client.query<{
    puballtables: boolean;
    pubtruncate: boolean;
    pubinsert: boolean;
    pubupdate: boolean;
    pubdelete: boolean;
  }>('SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = $1', [PUBLICATION_NAME]);
  const pub = rows[0];
  // A truncate would empty the table in every region at once: not published.
  const create = `CREATE PUBLICATION ${PUBLICATION_NAME} FOR TABLE ${list} WITH (publish = 'insert, update, delete')`;
  if (!pub) {
    await client.query(create);
    return 'created';
  }
  if (pub.puballtables) {
    // Never FOR ALL TABLES: it would carry regional rows abroad (rule R1).
    await client.query(`DROP PUBLICATION ${PUBLICATION_NAME}`);
    await client.query(create);
    return 'updated';
  }
  const members = await client.query<{ tablename: string }>(
    "SELECT tablename FROM pg_publication_tables WHERE pubname = $1 AND schemaname = 'public' ORDER BY tablename",
    [PUBLICATION_NAME],
  );
  const current = members.rows.map((r) => r.tablename).join(',');
  let status: MeshStepStatus = 'unchanged';
  if (current !== [...tables].sort().join(',')) {
    await client.query(`ALTER PUBLICATION ${PUBLICATION_NAME} SET TABLE ${list}`);
    status = 'updated';
  }
  if (!pub.pubinsert || !pub.pubupdate || !pub.pubdelete || pub.pubtruncate) {
    await client.query(`ALTER PUBLICATION ${PUBLICATION_NAME} SET (publish = 'insert, update, delete')`);
    status = 'updated';
  }
  return status;
}

/** Drops a slot left behind by an earlier subscriber of the same name (its position is meaningless now). */
async function dropStaleSlot(publisher: pg.Client, slot: string, waitMs = 10_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { rows } = await publisher.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (rows.length === 0) return;
    if (!rows[0]!.active) {
      await publisher.query('SELECT pg_drop_replication_slot($1)', [slot]);
      return;
    }
    if (Date.now() > deadline) throw new Error(`replication slot ${slot} is still in use by another subscriber`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function createSubscription(subscriber: pg.Client, name: string, conninfo: string): Promise<void> {
  await subscriber.query(
    `CREATE SUBSCRIPTION ${name} CONNECTION ${subscriber.escapeLiteral(conninfo)} PUBLICATION ${PUBLICATION_NAME} WITH (${SUBSCRIPTION_OPTIONS})`,
  );
}

function linkConninfo(from: MeshNode, to: MeshNode, options: MeshOptions): string {
  const publisher = endpointFromUrl(from.adminUrl);
  const via = options.endpoint?.({ from: from.region, to: to.region });
  return toConninfo({ ...publisher, host: via?.host ?? publisher.host, port: via?.port ?? publisher.port }, options.conninfoExtra);
}

/**
 * Sets up (or checks) the full mesh: in every region the publication of the global tables,
 * listed by name, and a subscription from every other region. Idempotent: a second call
 * changes nothing, except a link whose endpoint changed (re-pointed in place). Runs the
 * steps one after another: two CREATE SUBSCRIPTIONs that create slots on each other's
 * servers at the same time wait for each other. Steps report; they do not throw.
 */
export async function setupMesh(nodes: readonly MeshNode[], options: MeshOptions = {}): Promise<MeshReport> {
  const steps: MeshStep[] = [];
  const reachable: MeshNode[] = [];
  let created = 0;
  for (const node of nodes) {
    try {
      await withClient(node.adminUrl, async (c) => {
        const actual = await clusterRegion(c);
        if (actual !== node.region) throw new Error(`the database at this URL belongs to ${actual}, not ${node.region}`);
        const tables = (await globalTables(c)).map((t) => t.table);
        steps.push({ step: 'publication', region: node.region, name: PUBLICATION_NAME, status: await ensurePublication(c, tables) });
      });
      reachable.push(node);
    } catch (err) {
      steps.push({ step: 'publication', region: node.region, name: PUBLICATION_NAME, status: 'failed', detail: errorText(err) });
    }
  }
  for (const to of reachable) {
    for (const from of reachable) {
      if (from.region === to.region) continue;
      const name = subscriptionName(from.region, to.region);
      try {
        const conninfo = linkConninfo(from, to, options);
        const status = await withClient(to.adminUrl, async (subscriber) => {
          const { rows } = await subscriber.query<{ subconninfo: string; subsynccommit: string }>(
            'SELECT subconninfo, subsynccommit FROM pg_subscription WHERE subname = $1',
            [name],
          );
          if (rows[0]) {
            let changed = false;
            if (rows[0].subsynccommit !== APPLY_SYNCHRONOUS_COMMIT) {
              await subscriber.query(`ALTER SUBSCRIPTION ${name} SET (synchronous_commit = '${APPLY_SYNCHRONOUS_COMMIT}')`);
              changed = true;
            }
            if (rows[0].subconninfo !== conninfo) {
              await subscriber.query(`ALTER SUBSCRIPTION ${name} CONNECTION ${subscriber.escapeLiteral(conninfo)}`);
              changed = true;
            }
            return changed ? ('updated' as const) : ('unchanged' as const);
          }
          await withClient(from.adminUrl, (publisher) => dropStaleSlot(publisher, name));
          await createSubscription(subscriber, name, conninfo);
          return 'created' as const;
        });
        if (status === 'created') created += 1;
        steps.push({ step: 'subscription', region: to.region, name, status });
      } catch (err) {
        steps.push({ step: 'subscription', region: to.region, name, status: 'failed', detail: errorText(err) });
      }
    }
  }
  let initialSync: RepairReport | undefined;
  if (created > 0 && options.initialSync !== false && reachable.length > 1) {
    initialSync = await repairGlobalTables(reachable);
  }
  const ok = steps.every((s) => s.status !== 'failed') && (initialSync?.ok ?? true);
  return initialSync ? { ok, steps, initialSync } : { ok, steps };
}

interface SubscriptionRow {
  readonly name: string;
  readonly conninfo: string;
  readonly enabled: boolean;
}

async function findSubscription(client: pg.Client, peerRegion: string): Promise<SubscriptionRow> {
  const region = await clusterRegion(client);
  const name = subscriptionName(peerRegion, region);
  const { rows } = await client.query<{ subconninfo: string; subenabled: boolean }>(
    'SELECT subconninfo, subenabled FROM pg_subscription WHERE subname = $1',
    [name],
  );
  if (!rows[0]) throw new Error(`${region} has no subscription ${name} from ${peerRegion}`);
  return { name, conninfo: rows[0].subconninfo, enabled: rows[0].subenabled };
}

/**
 * Re-points the subscription that brings `peerRegion`'s changes into the region at adminUrl
 * (through a WAN proxy, or to a promoted standby). The worker reconnects by itself and
 * resumes from its slot: nothing is lost or repeated.
 */
export async function repointSubscription(
  adminUrl: string,
  peerRegion: string,
  endpoint: LinkEndpoint,
): Promise<{ subscription: string; changed: boolean }> {
  return withClient(adminUrl, async (c) => {
    const sub = await findSubscription(c, peerRegion);
    const current = parseConninfo(sub.conninfo);
    const { host: _h, port: _p, dbname: _d, user: _u, password: _pw, ...extra } = current;
    const next = toConninfo({ ...endpointFromConninfo(sub.conninfo), host: endpoint.host, port: endpoint.port }, extra);
    if (next === sub.conninfo) return { subscription: sub.name, changed: false };
    await c.query(`ALTER SUBSCRIPTION ${sub.name} CONNECTION ${c.escapeLiteral(next)}`);
    return { subscription: sub.name, changed: true };
  });
}

export async function disableSubscription(adminUrl: string, peerRegion: string): Promise<{ subscription: string; enabled: false }> {
  return withClient(adminUrl, async (c) => {
    const sub = await findSubscription(c, peerRegion);
    await c.query(`ALTER SUBSCRIPTION ${sub.name} DISABLE`);
    return { subscription: sub.name, enabled: false };
  });
}

export async function enableSubscription(adminUrl: string, peerRegion: string): Promise<{ subscription: string; enabled: true }> {
  return withClient(adminUrl, async (c) => {
    const sub = await findSubscription(c, peerRegion);
    await c.query(`ALTER SUBSCRIPTION ${sub.name} ENABLE`);
    return { subscription: sub.name, enabled: true };
  });
}

export interface ResyncReport {
  readonly subscription: string;
  /** The rows pulled from the publisher through the conflict rule after the link was re-made. */
  readonly repair: PairRepair;
}

/**
 * Re-makes a subscription from scratch (a lost or invalidated slot, an apply error that
 * will not clear) and pulls every row that is missing or older from the publisher through
 * the conflict rule. The new slot is created before the rows are compared, so a change made
 * meanwhile arrives by one path or the other (or both: the rule makes that harmless).
 * publisherUrl: a direct superuser URL of the publisher; default: the subscription's own
 * connection (which may pass through a WAN proxy).
 */
export async function resyncSubscription(
  adminUrl: string,
  peerRegion: string,
  options: { publisherUrl?: string } = {},
): Promise<ResyncReport> {
  const { name, conninfo, region } = await withClient(adminUrl, async (c) => {
    const sub = await findSubscription(c, peerRegion);
    await c.query(`ALTER SUBSCRIPTION ${sub.name} DISABLE`);
    await c.query(`ALTER SUBSCRIPTION ${sub.name} SET (slot_name = NONE)`);
    await c.query(`DROP SUBSCRIPTION ${sub.name}`);
    return { ...sub, region: await clusterRegion(c) };
  });
  const publisher: PgEndpoint = options.publisherUrl ? endpointFromUrl(options.publisherUrl) : endpointFromConninfo(conninfo);
  const publisherUrl = options.publisherUrl ?? endpointToUrl(publisher);
  await withClient(publisherUrl, (p) => dropStaleSlot(p, name));
  await withClient(adminUrl, (c) => createSubscription(c, name, conninfo));
  const repair = await repairPair({ region: peerRegion, adminUrl: publisherUrl }, { region, adminUrl }, { direction: 'a-to-b' });
  return { subscription: name, repair };
}
