import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Topology } from '@atlas/core';
import { databaseUrl, defaultRegionPorts, fenceServer, regionLayout, type RegionPorts } from '@atlas/db';
import { DEFAULT_THRESHOLDS, type FailoverThresholds, type Phase } from './core/index';
import { startControlServer, type ControlServer } from './control-server';
import { DbForwarder } from './db-forwarder';
import { FailoverLog } from './failover-log';
import { RegionRunner } from './region-runner';
import { checkRepairInterval, failoverInProgress, repairIntervalFromEnv, startRepairSchedule, type RepairSchedule } from './repair-schedule';
import type { SwitchoverResult } from './switchover';

export interface OrchestratorOptions {
  readonly home: string;
  readonly topology: Topology;
  readonly superuserPassword: string;
  /** Regions to watch (default: all). Their primaries must already run (ensureRegionDatabase). */
  readonly regions?: readonly string[];
  /** Standby and forwarder ports per region (default: dbPort + 1000 and dbPort + 2000). */
  readonly ports?: Readonly<Record<string, RegionPorts>>;
  readonly thresholds?: Partial<FailoverThresholds>;
  readonly probeIntervalMs?: number;
  readonly probeTimeoutMs?: number;
  /** Injected clock (ms since the epoch) for the state machine. */
  readonly clock?: () => number;
  readonly webhookUrl?: string;
  /** Control HTTP port on 127.0.0.1 for `atlas failover` / `atlas chaos`; 0 picks one; undefined: none. */
  readonly controlPort?: number;
  readonly log?: (line: string) => void;
  /** Wired by the lead to the replication engineer's functions. */
  readonly restoreReplicationLinks?: (region: string, newPrimaryUrl: string) => Promise<void>;
  readonly repairGlobalTables?: (region: string) => Promise<void>;
  /** The region API's PID, frozen by `chaos kill-region` and thawed by `revive`. */
  readonly apiPid?: (region: string) => number | undefined;
  /** Scheduled anti-entropy pass interval (default: ATLAS_REPAIR_INTERVAL_MS, else 5 minutes). */
  readonly repairIntervalMs?: number;
}

export interface ChaosResult {
  readonly region: string;
  readonly action: 'kill-region' | 'revive' | 'kill-db';
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface Orchestrator {
  /** Where the region's API must connect: the forwarder, which follows the primary. */
  forwarderPort(region: string): number;
  status(): OrchestratorStatus;
  plannedSwitchover(region: string): Promise<SwitchoverResult>;
  /** Resolves when the region reaches `phase` (false after the timeout). */
  waitForPhase(region: string, phase: Phase, timeoutMs: number): Promise<boolean>;
  killDb(region: string): Promise<ChaosResult>;
  killRegion(region: string): Promise<ChaosResult>;
  revive(region: string): Promise<ChaosResult>;
  readonly runners: ReadonlyMap<string, RegionRunner>;
  /** The scheduled anti-entropy pass over the watched regions (repair-schedule.ts). */
  readonly repairSchedule: RepairSchedule;
  readonly controlUrl: string | undefined;
  /** Stops probing, the forwarders, the control port and the standbys it started. Primaries keep running. */
  stop(): Promise<void>;
}

export interface OrchestratorStatus {
  readonly regions: ReadonlyArray<ReturnType<RegionRunner['status']> & { readonly drillDown: boolean }>;
}

/** Where a running orchestrator advertises its control port (read by the CLI). */
export const orchestratorStateFile = (home: string): string => join(home, 'orchestrator.json');

/**
 * Starts the failover orchestrator: per region a database forwarder (the API's stable
 * address), a fresh synchronous standby, and a probe loop driving the pure state machine.
 */
export async function startOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const thresholds: FailoverThresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const clock = options.clock ?? Date.now;
  const repairIntervalMs = checkRepairInterval(options.repairIntervalMs ?? repairIntervalFromEnv());
  const downHosts = new Set<string>();
  const regions = options.topology.regions.filter((r) => !options.regions || options.regions.includes(r.id));
  const runners = new Map<string, RegionRunner>();
  const forwarders: DbForwarder[] = [];
  let control: ControlServer | undefined;

  try {
    for (const region of regions) {
      const layout = regionLayout(options.home, region, options.ports?.[region.id] ?? defaultRegionPorts(region));
      const forwarder = new DbForwarder({ port: layout.forwarderPort, target: layout.home.port });
      await forwarder.start();
      forwarders.push(forwarder);
      const runner = new RegionRunner({
        home: options.home,
        layout,
        superuserPassword: options.superuserPassword,
        thresholds,
        probeIntervalMs: options.probeIntervalMs ?? 250,
        probeTimeoutMs: options.probeTimeoutMs ?? 1_000,
        clock,
        forwarder,
        failoverLog: new FailoverLog(log),
        log,
        hostDown: (host) => downHosts.has(host),
        ...(options.webhookUrl ? { webhookUrl: options.webhookUrl } : {}),
        ...(options.restoreReplicationLinks ? { restoreReplicationLinks: options.restoreReplicationLinks } : {}),
        ...(options.repairGlobalTables ? { repairGlobalTables: options.repairGlobalTables } : {}),
      });
      runners.set(region.id, runner);
    }
    // Each start suspends sync on its primary (no standby yet) and begins a standby clone in
    // the background; start() returns before the clones finish (status: standby-lost).
    for (const runner of runners.values()) await runner.start();
  } catch (err) {
    for (const runner of runners.values()) await runner.stop().catch(() => undefined);
    await Promise.all(forwarders.map((f) => f.close()));
    throw err;
  }

  const runner = (region: string): RegionRunner => {
    const r = runners.get(region);
    if (!r) throw new Error(`unknown or unwatched region ${region}; watched: ${[...runners.keys()].join(', ')}`);
    return r;
  };

  const signalApi = (region: string, signal: NodeJS.Signals): number | undefined => {
    const pid = options.apiPid?.(region);
    if (!pid) return undefined;
    try {
      process.kill(pid, signal);
      return pid;
    } catch {
      return undefined;
    }
  };

  // Through the forwarders, so a pass reaches whichever server is the primary now.
  const repairSchedule = startRepairSchedule({
    intervalMs: repairIntervalMs,
    nodes: () => [...runners.values()].map((r) => ({ region: r.region, adminUrl: databaseUrl('postgres', options.superuserPassword, r.status().forwarder.port) })),
    skipReason: () => failoverInProgress(runners.values()),
    log,
  });

  const orchestrator: Orchestrator = {
    runners,
    repairSchedule,
    get controlUrl() {
      return control?.url;
    },
    forwarderPort: (region) => runner(region).status().forwarder.port,
    status: () => ({ regions: [...runners.values()].map((r) => ({ ...r.status(), drillDown: downHosts.has(r.region) })) }),
    plannedSwitchover: (region) => runner(region).requestSwitchover(),
    async waitForPhase(region, phase, timeoutMs) {
      const r = runner(region);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (r.state.phase === phase) return true;
        await new Promise((res) => setTimeout(res, 50));
      }
      return r.state.phase === phase;
    },
    async killDb(region) {
      const r = runner(region);
      const fenced = await fenceServer(r.location('primary').dataDir);
      log(`chaos: killed ${region}'s primary (${fenced.killed.length} processes)`);
      return { region, action: 'kill-db', detail: { killed: fenced.killed, primary: r.location('primary') } };
    },
    async killRegion(region) {
      runner(region);
      downHosts.add(region);
      const killed: Record<string, number> = {};
      // Every server whose data lives in this region's folder: its primary and local standby,
      // and partner standbys it hosts for other regions.
      for (const r of runners.values()) {
        for (const role of ['primary', 'standby'] as const) {
          if (r.host(role) !== region) continue;
          const loc = r.location(role);
          killed[loc.dataDir] = (await fenceServer(loc.dataDir)).killed.length;
        }
      }
      runner(region).forwarder.refuse();
      const apiPid = signalApi(region, 'SIGSTOP');
      log(`chaos: region ${region} is down (servers killed, database address refusing, API ${apiPid ? `pid ${apiPid} frozen` : 'not found'})`);
      return { region, action: 'kill-region', detail: { killed, apiFrozen: apiPid ?? null } };
    },
    async revive(region) {
      const r = runner(region);
      downHosts.delete(region);
      const apiPid = signalApi(region, 'SIGCONT');
      r.forwarder.release(r.location('primary').port);
      let restarted = false;
      // The recorded primary comes back if it lives here and no failover replaced it;
      // standbys are rebuilt by their regions' state machines.
      if (r.host('primary') === region && !(await r.isPrimaryRunning())) {
        await r.restartPrimary();
        restarted = true;
      }
      log(`chaos: region ${region} revived (primary ${restarted ? 'restarted' : 'untouched'}, API ${apiPid ? 'thawed' : 'not found'})`);
      return { region, action: 'revive', detail: { primaryRestarted: restarted, apiThawed: apiPid ?? null } };
    },
    async stop() {
      await repairSchedule.stop();
      await control?.close();
      await Promise.all([...runners.values()].map((r) => r.stop()));
      for (const r of runners.values()) await r.stopStandby();
      await Promise.all(forwarders.map((f) => f.close()));
      await rm(orchestratorStateFile(options.home), { force: true });
    },
  };

  if (options.controlPort !== undefined) {
    control = await startControlServer(orchestrator, options.controlPort);
    await mkdir(options.home, { recursive: true });
    await writeFile(orchestratorStateFile(options.home), `${JSON.stringify({ pid: process.pid, controlUrl: control.url }, null, 2)}\n`);
    log(`orchestrator control on ${control.url}`);
  }
  for (const [id, r] of runners) log(`${id}: database address 127.0.0.1:${r.status().forwarder.port} → primary ${r.location('primary').port}; standby ${r.location('standby').dataDir}:${r.location('standby').port}`);
  return orchestrator;
}

