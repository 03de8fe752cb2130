import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { signRequest } from '../lambda/aws-signed';
import { resolve } from 'node:path';
import { buildOrchestratorBundle, DEFAULT_BUNDLE_DIR } from '../lambda/build';
import { testSettings } from './support/fixtures';
import { DynamoDbStateStore } from '../lambda/orchestrator.aws';
import { initialState, MemoryStateStore, probesPerRun, runTick, thresholdsFor, type TickDeps } from '../lambda/orchestrator.tick';
import { AwsFault, startAwsJsonServer } from './support/aws-json-server';

const health = { intervalSeconds: 30, downAfter: 3, upAfter: 2 };

function tickDeps(store: MemoryStateStore, healthy: Record<string, () => boolean>, clock: { t: number }) {
  const notes: string[] = [];
  const effects: string[] = [];
  const deps: TickDeps = {
    regions: Object.keys(healthy).map((id) => ({ id, healthUrl: `https://${id}.test/readyz` })),
    health,
    store,
    notifier: { publish: async (region, n) => void notes.push(`${region} ${n}`) },
    effects: {
      run: async (region, effect) => {
        effects.push(`${region} ${effect.kind}`);
        if (effect.kind === 'fence-primary') return { type: 'fence-done' };
        if (effect.kind === 'promote-standby') return { type: 'promote-done' };
        return undefined;
      },
    },
    probe: async (url) => healthy[new URL(url).hostname.replace(/\.test$/, '')]!(),
    now: () => clock.t,
    sleep: async (ms) => void (clock.t += ms),
  };
  return { deps, notes, effects };
}

describe('orchestrator tick (the Lambda body)', () => {
  it('maps the deployed health rule onto the core thresholds', () => {
    expect(probesPerRun(health)).toBe(2);
    expect(thresholdsFor(health)).toMatchObject({ primaryFailAfterProbes: 3, primaryFailAfterMs: 60_000, recoverAfterProbes: 2 });
  });

  it('keeps healthy regions healthy and persists their state between runs', async () => {
    const store = new MemoryStateStore();
    const clock = { t: 1_000_000 };
    const { deps, notes } = tickDeps(store, { 'eu-west-1': () => true, 'us-east-1': () => true }, clock);
    const report = await runTick(deps);
    expect(report.regions).toEqual([{ region: 'eu-west-1', phase: 'healthy', probes: [true, true] }, { region: 'us-east-1', phase: 'healthy', probes: [true, true] }]);
    await runTick(deps);
    expect(store.states.get('eu-west-1')!.version).toBe(2);
    expect(notes).toEqual([]);
  });

  it('fails a region over only after downAfter failed probes spanning the interval, across runs', async () => {
    const store = new MemoryStateStore();
    const clock = { t: 1_000_000 };
    let euUp = true;
    const { deps, notes, effects } = tickDeps(store, { 'eu-west-1': () => euUp, 'us-east-1': () => true }, clock);
    await runTick(deps);
    euUp = false;
    clock.t += 1_000;
    const first = await runTick(deps);
    // Two failed probes: suspect, not yet failed.
    expect(first.regions[0]).toEqual({ region: 'eu-west-1', phase: 'suspect', probes: [false, false] });
    expect(effects).toEqual([]);
    clock.t += 1_000;
    await runTick(deps);
    expect(effects.slice(0, 2)).toEqual(['eu-west-1 fence-primary', 'eu-west-1 promote-standby']);
    expect(notes).toContain('eu-west-1 primary-failed');
    expect(notes).toContain('eu-west-1 failed-over');
    expect(store.steps.some((s) => s.region === 'eu-west-1' && s.step === 'detect')).toBe(true);
    expect(store.states.get('us-east-1')!.state.phase).toBe('healthy');
  });

  it('refuses to save over a state another run saved in between', async () => {
    const store = new MemoryStateStore();
    await store.save('eu-west-1', initialState('eu-west-1', 0), 0);
    await expect(store.save('eu-west-1', initialState('eu-west-1', 1), 0)).rejects.toThrow(/changed concurrently/);
  });
});

describe('signed AWS calls without the SDK', () => {
  it('computes the same SigV4 signature as the AWS SDK for the same request', async () => {
    const server = await startAwsJsonServer({ DescribeServices: () => ({ services: [] }) });
    try {
      const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local/secret+key', sessionToken: 'session-token' };
      await new ECSClient({ region: 'eu-west-1', endpoint: server.endpoint, credentials }).send(new DescribeServicesCommand({ cluster: 'c', services: ['s'] }));
      const call = server.calls[0]!;
      const auth = call.headers.authorization!;
      const signedNames = /SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';');
      const headers = Object.fromEntries(signedNames.filter((n) => !['host', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'].includes(n)).map((n) => [n, call.headers[n]!]));
      const d = call.headers['x-amz-date']!;
      const date = new Date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`);
      const mine = signRequest({ method: 'POST', url: new URL(`${server.endpoint}/`), headers, body: call.rawBody, service: 'ecs', region: 'eu-west-1', credentials, date, contentSha256Header: signedNames.includes('x-amz-content-sha256') });
      expect(mine.authorization).toBe(auth);
    } finally {
      await server.close();
    }
  });
});

describe('DynamoDbStateStore over the DynamoDB JSON API', () => {
  it('round-trips state with a version condition, and reports a lost race', async () => {
    const items = new Map<string, Record<string, any>>();
    const server = await startAwsJsonServer({
      GetItem: (b) => ({ ...(items.has(`${b.Key.pk.S}|${b.Key.sk.S}`) ? { Item: items.get(`${b.Key.pk.S}|${b.Key.sk.S}`) } : {}) }),
      PutItem: (b) => {
        const key = `${b.Item.pk.S}|${b.Item.sk.S}`;
        const existing = items.get(key);
        if (b.ConditionExpression === 'attribute_not_exists(pk)' && existing) throw new AwsFault('com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', 'The conditional request failed');
        if (b.ConditionExpression === 'version = :v' && existing?.version.N !== b.ExpressionAttributeValues[':v'].N) throw new AwsFault('com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', 'The conditional request failed');
        items.set(key, b.Item);
        return {};
      },
    });
    try {
      const store = new DynamoDbStateStore({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 's' }, endpoint: () => server.endpoint }, 'atlas-prod-use1-failover-state');
      expect(await store.load('eu-west-1')).toBeUndefined();
      const state = { ...initialState('eu-west-1', 5), phase: 'suspect' as const, primaryFailures: 2 };
      await store.save('eu-west-1', state, 0);
      expect(await store.load('eu-west-1')).toEqual({ state, version: 1 });
      await store.save('eu-west-1', state, 1);
      await expect(store.save('eu-west-1', state, 1)).rejects.toThrow(/changed concurrently/);
      await store.recordStep('eu-west-1', 0, 'detect', 'done', { probes: 3 });
      expect([...items.keys()]).toEqual(['region#eu-west-1|state', 'region#eu-west-1|step#1970-01-01T00:00:00.000Z#0']);
      expect(server.calls[0]!.headers['content-type']).toBe('application/x-amz-json-1.0');
      expect(server.calls[0]!.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
      expect(server.calls[0]!.body.TableName).toBe('atlas-prod-use1-failover-state');
    } finally {
      await server.close();
    }
  });
});

describe('the built Lambda bundle', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'atlas-orch-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lands by default where the stack config looks for it (atlas:orchestratorBundle, relative to infra/)', () => {
    const fallback = testSettings({ orchestratorBundle: '' }).orchestratorBundle;
    expect(resolve(new URL('..', import.meta.url).pathname, fallback)).toBe(DEFAULT_BUNDLE_DIR);
  });

  it('is one self-contained ES module exporting handler, which runs a tick against the (local) cloud', async () => {
    const { file, bytes } = await buildOrchestratorBundle(dir);
    expect(bytes).toBeGreaterThan(1_000);
    const mod = (await import(pathToFileURL(file).href)) as { handler: (event: unknown, context?: unknown) => Promise<unknown>; tickFromEnv: (env: NodeJS.ProcessEnv) => Promise<{ regions: { region: string; phase: string }[] }> };
    expect(typeof mod.handler).toBe('function');
    // Lambda calls handler(event, context): the configuration must come from process.env only.
    await expect(mod.handler({}, { functionName: 'x' })).rejects.toThrow(/ATLAS_STATE_TABLE and ATLAS_EVENTS_TOPIC must be set/);

    const items = new Map<string, unknown>();
    const aws = await startAwsJsonServer({
      GetItem: () => ({}),
      PutItem: (b) => void items.set(`${b.Item.pk.S}|${b.Item.sk.S}`, b.Item),
      Publish: (b) => ({ xml: `<PublishResponse><PublishResult><MessageId>m-${b.Subject}</MessageId></PublishResult></PublishResponse>` }),
      RebootDBInstance: () => ({ xml: '<RebootDBInstanceResponse><RebootDBInstanceResult/></RebootDBInstanceResponse>' }),
    });
    const web = createServer((req, res) => res.writeHead(req.url === '/eu/readyz' ? 503 : 200).end());
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
    try {
      const report = await mod.tickFromEnv({
        ATLAS_STATE_TABLE: 'atlas-test-state',
        ATLAS_EVENTS_TOPIC: 'arn:aws:sns:us-east-1:123456789012:atlas-test-events',
        ATLAS_REGIONS: JSON.stringify([{ id: 'eu-west-1', healthUrl: `${base}/eu/readyz` }, { id: 'us-east-1', healthUrl: `${base}/us/readyz` }]),
        // One probe per run, and a single failed probe declares the primary failed.
        ATLAS_HEALTH: JSON.stringify({ intervalSeconds: 60, downAfter: 1, upAfter: 1 }),
        ATLAS_DB_INSTANCES: JSON.stringify({ 'eu-west-1': 'arn:aws:rds:eu-west-1:123456789012:db:atlas-test-euw1-db', 'us-east-1': 'arn:aws:rds:us-east-1:123456789012:db:atlas-test-use1-db' }),
        AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
        AWS_SECRET_ACCESS_KEY: 'local-secret',
        AWS_REGION: 'us-east-1',
        ATLAS_AWS_ENDPOINT: aws.endpoint,
      });
      expect(report.regions.find((r) => r.region === 'us-east-1')!.phase).toBe('healthy');
      expect(report.regions.find((r) => r.region === 'eu-west-1')!.phase).not.toBe('healthy');
      const reboot = aws.calls.find((c) => c.operation === 'RebootDBInstance')!;
      expect(reboot.body).toMatchObject({ DBInstanceIdentifier: 'atlas-test-euw1-db', ForceFailover: 'true', Version: '2014-10-31' });
      expect(reboot.scope).toMatch(/\/eu-west-1\/rds$/);
      expect(aws.calls.filter((c) => c.operation === 'Publish').map((c) => c.body.Subject)).toContain('Atlas eu-west-1: primary-failed');
      expect(items.has('region#us-east-1|state')).toBe(true);
    } finally {
      await aws.close();
      await new Promise<void>((resolve) => web.close(() => resolve()));
    }
  });
});
