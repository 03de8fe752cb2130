/**
 * One scheduled run of the failover orchestrator in AWS: the same pure core
 * (packages/orchestrator/src/core) the local daemon runs, fed by HTTPS probes of each
 * region's readiness route, with its state kept between runs in an injected store
 * (DynamoDB in AWS, memory in tests). Only the core is imported, never the daemon.
 */
import { DEFAULT_THRESHOLDS, healthyRegion, transition, type FailoverEffect, type FailoverEvent, type FailoverThresholds, type Notification, type RegionFailoverState } from '../../packages/orchestrator/src/core/index';

export interface WatchedRegion {
  readonly id: string;
  readonly healthUrl: string;
}

export interface HealthRule {
  readonly intervalSeconds: number;
  readonly downAfter: number;
  readonly upAfter: number;
}

export interface StoredState {
  readonly state: RegionFailoverState;
  /** Optimistic-concurrency version: a save fails if another run saved in between. */
  readonly version: number;
}

export interface StateStore {
  load(region: string): Promise<StoredState | undefined>;
  /** Saves `state` if the stored version is still `expectedVersion` (0: none stored yet). */
  save(region: string, state: RegionFailoverState, expectedVersion: number): Promise<void>;
  recordStep(region: string, at: number, step: string, status: string, detail: Readonly<Record<string, unknown>>): Promise<void>;
}

export interface Notifier {
  publish(region: string, notification: Notification, message: string): Promise<void>;
}

/** Runs an effect of the core against the cloud; may answer with the event it produces. */
export interface EffectRunner {
  run(region: string, effect: FailoverEffect): Promise<FailoverEvent | undefined>;
}

export interface TickDeps {
  readonly regions: readonly WatchedRegion[];
  readonly health: HealthRule;
  readonly store: StateStore;
  readonly notifier: Notifier;
  readonly effects: EffectRunner;
  readonly probe: (url: string) => Promise<boolean>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export interface TickReport {
  readonly regions: readonly { readonly region: string; readonly phase: string; readonly probes: readonly boolean[] }[];
}

/** The deployed health rule as the core's thresholds: down after N failed probes over (N-1) intervals. */
export function thresholdsFor(health: HealthRule): FailoverThresholds {
  return {
    ...DEFAULT_THRESHOLDS,
    primaryFailAfterProbes: health.downAfter,
    primaryFailAfterMs: (health.downAfter - 1) * health.intervalSeconds * 1000,
    recoverAfterProbes: health.upAfter,
  };
}

/** EventBridge fires once a minute; probe as often as the health interval asks within that minute. */
export function probesPerRun(health: HealthRule): number {
  return Math.max(1, Math.floor(60 / health.intervalSeconds));
}

/** A region seen for the first time: RDS Multi-AZ keeps a synchronous standby from creation. */
export function initialState(region: string, now: number): RegionFailoverState {
  return healthyRegion(region, now);
}

/** Applies one event and every effect it causes (events produced by effects are fed back). */
async function apply(deps: TickDeps, thresholds: FailoverThresholds, start: RegionFailoverState, first: FailoverEvent): Promise<RegionFailoverState> {
  let state = start;
  const queue: FailoverEvent[] = [first];
  for (let guard = 0; queue.length > 0 && guard < 32; guard++) {
    const next = transition(state, queue.shift()!, deps.now(), thresholds);
    state = next.state;
    for (const effect of next.effects) {
      if (effect.kind === 'notify') await deps.notifier.publish(state.region, effect.notification, effect.message);
      else if (effect.kind === 'record-step') await deps.store.recordStep(state.region, deps.now(), effect.step, effect.status, effect.detail);
      else if (effect.kind === 'report') queue.push({ type: effect.event });
      else {
        const produced = await deps.effects.run(state.region, effect);
        if (produced) queue.push(produced);
      }
    }
  }
  return state;
}

/** One run: probe every region `probesPerRun` times, advance its machine, save it. */
export async function runTick(deps: TickDeps): Promise<TickReport> {
  const thresholds = thresholdsFor(deps.health);
  const rounds = probesPerRun(deps.health);
  const loaded = new Map<string, StoredState | undefined>();
  const states = new Map<string, RegionFailoverState>();
  const probes = new Map<string, boolean[]>(deps.regions.map((r) => [r.id, []]));
  for (const r of deps.regions) {
    const stored = await deps.store.load(r.id);
    loaded.set(r.id, stored);
    states.set(r.id, stored?.state ?? initialState(r.id, deps.now()));
  }
  for (let round = 0; round < rounds; round++) {
    if (round > 0) await deps.sleep(deps.health.intervalSeconds * 1000);
    // Regions are independent: probe them together so one slow region does not delay the rest.
    await Promise.all(deps.regions.map(async (r) => {
      let ok: boolean;
      try {
        ok = await deps.probe(r.healthUrl);
      } catch {
        ok = false;
      }
      probes.get(r.id)!.push(ok);
      states.set(r.id, await apply(deps, thresholds, states.get(r.id)!, { type: ok ? 'probe-ok' : 'probe-failed' }));
    }));
  }
  for (const r of deps.regions) await deps.store.save(r.id, states.get(r.id)!, loaded.get(r.id)?.version ?? 0);
  return { regions: deps.regions.map((r) => ({ region: r.id, phase: states.get(r.id)!.phase, probes: probes.get(r.id)! })) };
}

/** The store tests and local runs use: same contract as DynamoDB, including the version check. */
export class MemoryStateStore implements StateStore {
  readonly states = new Map<string, StoredState>();
  readonly steps: { region: string; at: number; step: string; status: string; detail: Readonly<Record<string, unknown>> }[] = [];

  async load(region: string): Promise<StoredState | undefined> {
    return this.states.get(region);
  }

  async save(region: string, state: RegionFailoverState, expectedVersion: number): Promise<void> {
    const current = this.states.get(region)?.version ?? 0;
    if (current !== expectedVersion) throw new Error(`state of ${region} changed concurrently (version ${current}, expected ${expectedVersion})`);
    this.states.set(region, { state, version: current + 1 });
  }

  async recordStep(region: string, at: number, step: string, status: string, detail: Readonly<Record<string, unknown>>): Promise<void> {
    this.steps.push({ region, at, step, status, detail });
  }
}
