import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegionConfig } from '@atlas/core';
import { regionDir } from '../home';
import { fenceServer } from './fence';
import { stripAutoConfFile } from './settings';
import type { NodeLocation } from './standby';

/**
 * A region has two PostgreSQL slots. `home` is ATLAS_HOME/<region>/pg on the region's
 * dbPort (what ensureRegionDatabase starts); `standby` is ATLAS_HOME/<region>/pg-standby, or
 * ATLAS_HOME/<partner>/pg-standby-<region> when the topology names a disaster-recovery
 * partner (same jurisdiction, checked by parseTopology). After a failover the roles swap.
 */
export type NodeSlot = 'home' | 'standby';

export const otherSlot = (slot: NodeSlot): NodeSlot => (slot === 'home' ? 'standby' : 'home');

/** Port offsets from the region's dbPort, unless the caller gives ports explicitly. */
export const STANDBY_PORT_OFFSET = 1000;
export const FORWARDER_PORT_OFFSET = 2000;

export interface RegionPorts {
  /** Where the region's standby listens. */
  readonly standby: number;
  /** The region's stable database address (the forwarder): what the API's DATABASE_URL names. */
  readonly forwarder: number;
}

export function defaultRegionPorts(region: RegionConfig): RegionPorts {
  const ports = { standby: region.dbPort + STANDBY_PORT_OFFSET, forwarder: region.dbPort + FORWARDER_PORT_OFFSET };
  if (ports.forwarder > 65535) throw new Error(`${region.id}: dbPort ${region.dbPort} leaves no room for the standby (+${STANDBY_PORT_OFFSET}) and forwarder (+${FORWARDER_PORT_OFFSET}) ports`);
  return ports;
}

export interface RegionLayout {
  readonly region: string;
  readonly home: NodeLocation;
  readonly standby: NodeLocation;
  /** The region whose folder holds the standby (the DR partner, or the region itself). */
  readonly standbyHost: string;
  readonly forwarderPort: number;
}

export function regionLayout(atlasHome: string, region: RegionConfig, ports: RegionPorts = defaultRegionPorts(region)): RegionLayout {
  const standbyHost = region.drPartner ?? region.id;
  const standbyDir = region.drPartner ? join(regionDir(atlasHome, region.drPartner), `pg-standby-${region.id}`) : join(regionDir(atlasHome, region.id), 'pg-standby');
  return {
    region: region.id,
    home: { dataDir: join(regionDir(atlasHome, region.id), 'pg'), port: region.dbPort },
    standby: { dataDir: standbyDir, port: ports.standby },
    standbyHost,
    forwarderPort: ports.forwarder,
  };
}

export const slotLocation = (layout: RegionLayout, slot: NodeSlot): NodeLocation => (slot === 'home' ? layout.home : layout.standby);

/** Which slot holds the region's primary: the orchestrator's file-backed state. */
export interface RegionRoles {
  readonly primary: NodeSlot;
  readonly changedAt: string;
  readonly failoverId?: string;
}

const rolesFile = (atlasHome: string, region: string) => join(regionDir(atlasHome, region), 'roles.json');

export async function readRoles(atlasHome: string, region: string): Promise<RegionRoles> {
  try {
    return JSON.parse(await readFile(rolesFile(atlasHome, region), 'utf8')) as RegionRoles;
  } catch {
    return { primary: 'home', changedAt: new Date(0).toISOString() };
  }
}

export async function writeRoles(atlasHome: string, region: string, roles: RegionRoles): Promise<void> {
  await mkdir(regionDir(atlasHome, region), { recursive: true, mode: 0o755 });
  const file = rolesFile(atlasHome, region);
  await writeFile(`${file}.tmp`, `${JSON.stringify(roles, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/**
 * Call before ensureRegionDatabase at start-up, with the region's servers stopped. After a
 * failover the primary lives in the standby slot: its data moves back into the home slot
 * (the old home data is a standby copy or a fenced old primary — discarded, never reused).
 * Then strips synchronous settings from the primary: its standby is not running yet and
 * commits (migrations included) would hang until the orchestrator rebuilds it.
 */
export async function prepareRegionPrimary(atlasHome: string, region: RegionConfig, ports: RegionPorts = defaultRegionPorts(region)): Promise<{ readonly movedFromStandbySlot: boolean }> {
  const layout = regionLayout(atlasHome, region, ports);
  const roles = await readRoles(atlasHome, region.id);
  let moved = false;
  if (roles.primary === 'standby' && existsSync(join(layout.standby.dataDir, 'PG_VERSION'))) {
    await fenceServer(layout.home.dataDir);
    await fenceServer(layout.standby.dataDir);
    await rm(layout.home.dataDir, { recursive: true, force: true });
    await rename(layout.standby.dataDir, layout.home.dataDir);
    await rm(`${layout.standby.dataDir}.log`, { force: true });
    moved = true;
  }
  if (roles.primary !== 'home') await writeRoles(atlasHome, region.id, { primary: 'home', changedAt: new Date().toISOString() });
  if (existsSync(join(layout.home.dataDir, 'PG_VERSION'))) {
    await stripAutoConfFile(layout.home.dataDir);
    await rm(join(layout.home.dataDir, 'standby.signal'), { force: true });
  }
  return { movedFromStandbySlot: moved };
}
