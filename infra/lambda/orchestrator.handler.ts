/**
 * Entry point of the orchestrator Lambda (bundled by infra/lambda/build.ts into
 * dist/orchestrator/index.mjs; the disaster-recovery component deploys it with handler
 * `index.handler`). EventBridge invokes it once a minute; each run is one tick.
 */
import { credentialsFromEnv, type AwsCallTarget } from './aws-signed';
import { DynamoDbStateStore, RdsEffects, SnsNotifier } from './orchestrator.aws';
import { runTick, type HealthRule, type TickReport, type WatchedRegion } from './orchestrator.tick';

function json<T>(env: NodeJS.ProcessEnv, name: string): T {
  const text = env[name];
  if (!text) throw new Error(`${name} is not set`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${name} is not valid JSON`);
  }
}

/** Probes answer within 5 s with 200, or they failed. */
async function probe(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000), redirect: 'manual' });
  await res.body?.cancel();
  return res.status === 200;
}

/** The Lambda entry: one tick configured by the function's environment. */
export async function handler(_event?: unknown): Promise<TickReport> {
  return tickFromEnv(process.env);
}

/** One tick configured by `env` (the Lambda's environment; tests pass their own). */
export async function tickFromEnv(env: NodeJS.ProcessEnv): Promise<TickReport> {
  const table = env.ATLAS_STATE_TABLE;
  const topic = env.ATLAS_EVENTS_TOPIC;
  if (!table || !topic) throw new Error('ATLAS_STATE_TABLE and ATLAS_EVENTS_TOPIC must be set');
  const regions = json<WatchedRegion[]>(env, 'ATLAS_REGIONS');
  const health = json<HealthRule>(env, 'ATLAS_HEALTH');
  const instances = json<Record<string, string>>(env, 'ATLAS_DB_INSTANCES');
  const credentials = credentialsFromEnv(env);
  // ATLAS_AWS_ENDPOINT points every call at one endpoint (local tests); unset in AWS.
  const endpoint = env.ATLAS_AWS_ENDPOINT;
  const targetFor = (region: string): AwsCallTarget => ({ region, credentials, ...(endpoint ? { endpoint: () => endpoint } : {}) });
  const home = targetFor(env.AWS_REGION ?? regions[0]?.id ?? 'us-east-1');
  const store = new DynamoDbStateStore(home, table);
  const now = () => Date.now();
  const report = await runTick({
    regions,
    health,
    store,
    notifier: new SnsNotifier(home, topic),
    effects: new RdsEffects(targetFor, instances, store, now),
    probe,
    now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  console.log(JSON.stringify({ msg: 'tick', ...report }));
  return report;
}
