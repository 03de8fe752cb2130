import {
  PgNode,
  fenceServer,
  firstError,
  serverProcesses,
  nodeUrl,
  otherSlot,
  probeNode,
  promoteStandby,
  readRoles,
  rebuildStandby,
  resumeSync,
  slotLocation,
  standbyName,
  suspendSync,
  writeRoles,
  type NodeLocation,
  type NodeSlot,
  type RegionLayout,
  type RegionRoles,
} from '@atlas/db';
import { describe, startRegion, transition, zeroLossPromise, type FailoverEffect, type FailoverEvent, type FailoverThresholds, type Phase, type RegionFailoverState } from './core/index';
import type { DbForwarder } from './db-forwarder';
import type { FailoverLog, FailoverStepRow } from './failover-log';
import { plannedSwitchoverSteps, type SwitchoverResult } from './switchover';
import { postWebhook } from './webhook';

export interface RegionRunnerOptions {
  readonly home: string;
  readonly layout: RegionLayout;
  readonly superuserPassword: string;
  readonly thresholds: FailoverThresholds;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly clock: () => number;
  readonly forwarder: DbForwarder;
  readonly failoverLog: FailoverLog;
  readonly webhookUrl?: string;
  readonly log: (line: string) => void;
  /** Whether a region's folder is down in a drill: nothing is started or rebuilt there. */
  readonly hostDown: (region: string) => boolean;
  readonly restoreReplicationLinks?: (region: string, newPrimaryUrl: string) => Promise<void>;
  readonly repairGlobalTables?: (region: string) => Promise<void>;
}

export interface PhaseChange {
  readonly at: number;
  readonly from: Phase;
  readonly to: Phase;
  readonly event: FailoverEvent['type'];
}

export interface FailoverTiming {
  readonly failoverId: string;
  /** First failed probe of the old primary (or the switchover request). */
  readonly firstFailureAt: number | null;
  readonly detectedAt: number | null;
  readonly repointedAt: number | null;
}

/**
 * The shell around one region's state machine: probes both nodes over fresh connections,
 * feeds events in one at a time, executes the effects each transition returns and feeds
 * their outcomes back. A rebuild runs in the background (it takes seconds); everything else
 * runs in order on one chain.
 */
export class RegionRunner {
  state: RegionFailoverState;
  roles: RegionRoles = { primary: 'home', changedAt: new Date(0).toISOString() };
  readonly history: PhaseChange[] = [];
  readonly notifications: Array<{ at: number; notification: string; message: string }> = [];
  lastFailover: FailoverTiming | null = null;
  /** Standby promotions (failovers and switchovers) since start: atlas_failovers_total. */
  promotions = 0;
  lastSwitchover: SwitchoverResult | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private rebuilding: Promise<void> | undefined;
  private restarting: Promise<void> | undefined;
  private episode: string | null = null;
  private wake: (() => void) | undefined;

  constructor(private readonly o: RegionRunnerOptions) {
    this.state = startRegion(o.layout.region, o.clock()).state;
  }

  get region(): string {
    return this.o.layout.region;
  }

  get forwarder(): DbForwarder {
    return this.o.forwarder;
  }

  async isPrimaryRunning(): Promise<boolean> {
    return (await serverProcesses(this.location('primary').dataDir)).length > 0;
  }

  /**
   * Starts the recorded primary again in place (crash recovery; no other node took over).
   * One restart at a time: the state machine and `chaos revive` can both ask, and a second
   * restart's fence would kill the server the first one is starting. A caller that asks while
   * a restart runs waits for that one.
   */
  restartPrimary(): Promise<void> {
    this.restarting ??= (async () => {
      await fenceServer(this.location('primary').dataDir);
      await this.primaryNode().start();
    })().finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  slotOf(role: 'primary' | 'standby'): NodeSlot {
    return role === 'primary' ? this.roles.primary : otherSlot(this.roles.primary);
  }

  location(role: 'primary' | 'standby'): NodeLocation {
    return slotLocation(this.o.layout, this.slotOf(role));
  }

  /** The folder (region) a slot's data lives in. */
  host(role: 'primary' | 'standby'): string {
    return this.slotOf(role) === 'home' ? this.region : this.o.layout.standbyHost;
  }

  primaryUrl(): string {
    return nodeUrl(this.location('primary').port, this.o.superuserPassword);
  }

  async start(): Promise<void> {
    this.roles = await readRoles(this.o.home, this.region);
    this.o.forwarder.retarget(this.location('primary').port);
    const first = startRegion(this.region, this.o.clock());
    this.state = first.state;
    this.chain = this.chain.then(() => this.execute(first.effects));
    await this.chain;
    this.loop = this.probeLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.chain;
    await this.rebuilding;
  }

  /** Feeds an event; resolves once it and everything it queued directly have been handled. */
  dispatch(event: FailoverEvent): Promise<void> {
    const run = this.chain.then(() => this.handle(event));
    this.chain = run.catch((err: Error) => this.o.log(`${this.region}: ${event.type}: ${err.message}`));
    return this.chain;
  }

  async idle(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.chain) {
      seen = this.chain;
      await seen;
    }
  }

  async requestSwitchover(): Promise<SwitchoverResult> {
    this.lastSwitchover = null;
    await this.dispatch({ type: 'switchover-requested' });
    await this.idle();
    return this.lastSwitchover ?? { ok: false, failoverId: null, steps: [], message: `switchover refused: ${describe(this.state)}` };
  }

  status() {
    return {
      region: this.region,
      phase: this.state.phase,
      since: new Date(this.state.since).toISOString(),
      standby: this.state.standby,
      zeroLoss: zeroLossPromise(this.state),
      message: describe(this.state),
      failoverId: this.state.failoverId,
      lastError: this.state.lastError,
      primary: { slot: this.slotOf('primary'), host: this.host('primary'), ...this.location('primary') },
      standbyNode: { slot: this.slotOf('standby'), host: this.host('standby'), ...this.location('standby') },
      forwarder: { port: this.o.forwarder.port, target: this.o.forwarder.target, mode: this.o.forwarder.mode },
      lastFailover: this.lastFailover,
      notifications: this.notifications.slice(-10),
    };
  }

  private async probeLoop(): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      await this.idle();
      if (this.stopped) break;
      const [primary, standby] = await Promise.all([
        probeNode(this.primaryUrl(), this.o.probeTimeoutMs),
        this.rebuilding ? Promise.resolve(undefined) : probeNode(nodeUrl(this.location('standby').port, this.o.superuserPassword), this.o.probeTimeoutMs),
      ]);
      const primaryOk = primary.ok && primary.inRecovery === false;
      await this.dispatch(primaryOk ? { type: 'probe-ok' } : { type: 'probe-failed', detail: primary.error ?? 'primary is in recovery' });
      if (standby) {
        // A standby whose primary just died stops streaming: that must not make it "lost"
        // (it is the node to promote). Not streaming from a live primary is a lost standby.
        const standbyOk = standby.ok && standby.inRecovery === true && (standby.receiver === 'streaming' || !primaryOk);
        await this.dispatch(standbyOk ? { type: 'standby-ok' } : { type: 'standby-failed', detail: standby.error ?? `receiver ${standby.receiver ?? 'none'}` });
      }
      const pause = Math.max(0, this.o.probeIntervalMs - (Date.now() - started));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private async handle(event: FailoverEvent): Promise<void> {
    const now = this.o.clock();
    const before = this.state;
    const next = transition(before, event, now, this.o.thresholds);
    this.state = next.state;
    if (before.phase !== next.state.phase) {
      this.history.push({ at: now, from: before.phase, to: next.state.phase, event: event.type });
      if (this.history.length > 500) this.history.shift();
      this.o.log(`${this.region}: ${before.phase} → ${next.state.phase} (${event.type}${event.detail ? `: ${event.detail}` : ''})`);
      if (before.phase === 'healthy') this.episode = `${this.region}-${new Date(now).toISOString()}`;
      if (next.state.phase === 'healthy') this.episode = null;
    }
    if (next.state.failoverId && next.state.failoverId !== before.failoverId) {
      this.lastFailover = { failoverId: next.state.failoverId, firstFailureAt: before.primaryFailingSince ?? next.state.primaryFailingSince ?? now, detectedAt: now, repointedAt: null };
    }
    await this.execute(next.effects);
  }

  private incidentId(): string {
    return this.state.failoverId ?? this.episode ?? `${this.region}-${new Date(this.o.clock()).toISOString()}`;
  }

  private record(step: string, status: FailoverStepRow['status'], startedAt: Date, detail: Readonly<Record<string, unknown>> = {}, finishedAt: Date | null = new Date()): void {
    this.o.failoverLog.add({ failoverId: this.incidentId(), region: this.region, step, status, detail, startedAt, finishedAt });
  }

  /** Runs one effect as a recorded step; returns whether it succeeded. */
  private async step(name: string, run: () => Promise<Readonly<Record<string, unknown>> | void>): Promise<boolean> {
    const startedAt = new Date();
    try {
      const detail = (await run()) ?? {};
      this.record(name, 'done', startedAt, detail);
      return true;
    } catch (err) {
      this.record(name, 'failed', startedAt, { error: (err as Error).message });
      return false;
    }
  }

  private async execute(effects: readonly FailoverEffect[]): Promise<void> {
    for (const effect of effects) await this.executeOne(effect);
    await this.o.failoverLog.flush(this.primaryUrl());
  }

  private primaryNode(): PgNode {
    const loc = this.location('primary');
    return new PgNode({ dataDir: loc.dataDir, port: loc.port, superuserPassword: this.o.superuserPassword });
  }

  private async executeOne(effect: FailoverEffect): Promise<void> {
    const o = this.o;
    switch (effect.kind) {
      case 'fence-primary': {
        const dir = this.location('primary').dataDir;
        let error = '';
        const ok = await this.step('fence', async () => {
          try {
            return { ...(await fenceServer(dir)) };
          } catch (err) {
            error = (err as Error).message;
            throw err;
          }
        });
        void this.dispatch(ok ? { type: 'fence-done' } : { type: 'fence-failed', detail: error });
        return;
      }
      case 'promote-standby': {
        let error = '';
        const ok = await this.step('promote', async () => {
          try {
            const result = await promoteStandby({ standby: this.location('standby'), superuserPassword: o.superuserPassword });
            this.roles = { primary: this.slotOf('standby'), changedAt: new Date().toISOString(), ...(this.state.failoverId ? { failoverId: this.state.failoverId } : {}) };
            await writeRoles(o.home, this.region, this.roles);
            this.promotions += 1;
            return { ...result, newPrimary: this.location('primary') };
          } catch (err) {
            error = (err as Error).message;
            throw err;
          }
        });
        void this.dispatch(ok ? { type: 'promote-done' } : { type: 'promote-failed', detail: error });
        return;
      }
      case 'repoint-api': {
        await this.step('repoint-api', async () => {
          const port = this.location('primary').port;
          if (o.forwarder.mode === 'hold') o.forwarder.release(port);
          else o.forwarder.retarget(port);
          if (this.lastFailover && this.lastFailover.failoverId === this.state.failoverId) this.lastFailover = { ...this.lastFailover, repointedAt: o.clock() };
          return { forwarderPort: o.forwarder.port, target: port };
        });
        return;
      }
      case 'restore-replication': {
        if (!o.restoreReplicationLinks) {
          this.record('restore-replication', 'not_run', new Date(), { reason: 'no restoreReplicationLinks callback wired' });
          return;
        }
        const restore = o.restoreReplicationLinks;
        await this.step('restore-replication', async () => {
          await restore(this.region, this.primaryUrl());
        });
        return;
      }
      case 'repair-global-tables': {
        if (!o.repairGlobalTables) {
          this.record('repair-global-tables', 'not_run', new Date(), { reason: 'no repairGlobalTables callback wired' });
          return;
        }
        const repair = o.repairGlobalTables;
        await this.step('repair-global-tables', () => repair(this.region));
        return;
      }
      case 'suspend-sync':
        await this.step('suspend-sync', async () => {
          await suspendSync(this.primaryUrl());
          return { zeroLoss: 'suspended' };
        });
        return;
      case 'resume-sync': {
        const ok = await this.step('resume-sync', () => resumeSync(this.primaryUrl(), standbyName(this.region)));
        if (!ok) void this.dispatch({ type: 'standby-failed', detail: 'could not make the standby synchronous' });
        return;
      }
      case 'rebuild-standby':
        this.startRebuild();
        return;
      case 'restart-primary':
        await this.step('restart-primary', async () => {
          const host = this.host('primary');
          if (o.hostDown(host)) throw new Error(`${host} is down (drill): not restarting`);
          await this.restartPrimary();
          return { port: this.location('primary').port };
        });
        return;
      case 'planned-switchover': {
        const result = await plannedSwitchoverSteps({
          region: this.region,
          primary: this.location('primary'),
          standby: this.location('standby'),
          superuserPassword: o.superuserPassword,
          forwarder: o.forwarder,
          onPromoted: async () => {
            this.roles = { primary: this.slotOf('standby'), changedAt: new Date().toISOString(), ...(this.state.failoverId ? { failoverId: this.state.failoverId } : {}) };
            await writeRoles(o.home, this.region, this.roles);
            this.promotions += 1;
            return this.location('primary').port;
          },
        });
        for (const s of result.steps) this.record(s.step, s.status, s.startedAt ?? new Date(), s.detail, s.finishedAt ?? null);
        this.lastSwitchover = { ...result, failoverId: this.state.failoverId };
        void this.dispatch(result.ok ? { type: 'switchover-done' } : { type: 'switchover-failed', promoted: result.promoted, detail: result.message });
        return;
      }
      case 'record-step':
        this.record(effect.step, effect.status, new Date(), effect.detail);
        return;
      case 'notify': {
        this.notifications.push({ at: o.clock(), notification: effect.notification, message: effect.message });
        if (this.notifications.length > 100) this.notifications.shift();
        o.log(`${this.region}: ${effect.notification}: ${effect.message}`);
        void postWebhook(
          o.webhookUrl,
          { source: 'atlas-orchestrator', region: this.region, notification: effect.notification, message: effect.message, phase: this.state.phase, failoverId: this.state.failoverId, at: new Date(o.clock()).toISOString() },
          o.log,
        );
        return;
      }
      case 'report':
        void this.dispatch({ type: effect.event });
        return;
    }
  }

  private startRebuild(): void {
    if (this.rebuilding) return;
    const o = this.o;
    const startedAt = new Date();
    const host = this.host('standby');
    this.rebuilding = (async () => {
      let event: FailoverEvent;
      if (o.hostDown(host)) {
        this.record('rebuild-standby', 'failed', startedAt, { error: `${host} is down (drill)` });
        event = { type: 'rebuild-failed', detail: `${host} is down (drill)` };
      } else {
        try {
          const report = await rebuildStandby({
            region: this.region,
            primary: this.location('primary'),
            standby: this.location('standby'),
            superuserPassword: o.superuserPassword,
            synchronous: true,
          });
          const ms = (s: (typeof report.steps)[number]) => (s.startedAt && s.finishedAt ? ` ${s.finishedAt.getTime() - s.startedAt.getTime()} ms` : '');
          const steps = Object.fromEntries(report.steps.map((s) => [s.step, s.status === 'failed' ? `failed: ${String(s.detail.error)}` : `${s.status}${ms(s)}`]));
          o.log(`${this.region}: rebuild-standby steps ${JSON.stringify(steps)}`);
          this.record('rebuild-standby', report.ok ? 'done' : 'failed', startedAt, { steps, host, ...(report.ok ? {} : { error: firstError(report) }) });
          event = report.ok ? { type: 'standby-rebuilt' } : { type: 'rebuild-failed', detail: firstError(report) ?? 'rebuild failed' };
        } catch (err) {
          this.record('rebuild-standby', 'failed', startedAt, { error: (err as Error).message });
          event = { type: 'rebuild-failed', detail: (err as Error).message };
        }
      }
      this.rebuilding = undefined;
      if (!this.stopped) await this.dispatch(event);
    })();
  }

  /** Stops the standby this runner manages (orderly shutdown of the orchestrator). */
  async stopStandby(): Promise<void> {
    await this.rebuilding;
    const loc = this.location('standby');
    const node = new PgNode({ dataDir: loc.dataDir, port: loc.port, superuserPassword: this.o.superuserPassword });
    await node.stop('fast').catch(() => fenceServer(loc.dataDir).catch(() => undefined));
  }
}
