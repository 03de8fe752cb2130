/**
 * Pulumi entry point (`pulumi up` in infra/). Reads and validates the stack config once, loads
 * the same topology file the local cluster uses, then declares everything via createAtlas.
 */
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { loadTopology } from '@atlas/core';
import { parseStackConfig } from './config/stack-config';
import { createAtlas } from './program';

const KEYS = [
  'environment', 'topologyPath', 'domain', 'route53ZoneId', 'cloudflareAccountId', 'cloudflareZoneId', 'publicHostname',
  'healthIntervalSeconds', 'healthPath', 'imageTag', 'alertEmail', 'authPublicKey', 'pagerDutyEndpoint', 'orchestratorBundle', 'drControlRegion',
  'vpcSupernet', 'vpcCidrs', 'azCount', 'postgresVersion', 'dbInstanceClass', 'cacheNodeType', 'taskCpu', 'taskMemory', 'minTasks', 'maxTasks',
] as const;

const config = new pulumi.Config('atlas');
const settings = parseStackConfig(Object.fromEntries(KEYS.map((k) => [k, config.get(k)])));
const repoRoot = path.resolve(import.meta.dirname, '..');
// A relative topology path is read from the repository root, like ATLAS_TOPOLOGY locally.
const topology = loadTopology(settings.topologyPath ? path.resolve(repoRoot, settings.topologyPath) : undefined);
const outputs = createAtlas(pulumi.getStack(), { ...settings, orchestratorBundle: path.resolve(import.meta.dirname, settings.orchestratorBundle) }, topology, {
  redisAuthToken: config.requireSecret('redisAuthToken'),
  blindIndexKey: config.requireSecret('blindIndexKey'),
  auditSigningKey: config.requireSecret('auditSigningKey'),
  documentKeys: config.requireSecretObject<Record<string, string>>('documentKeys'),
  dbAppPassword: config.requireSecret('dbAppPassword'),
  dbCacheStreamPassword: config.requireSecret('dbCacheStreamPassword'),
});

export const albs = outputs.albs;
export const repositories = outputs.repositories;
export const orchestratorFunction = outputs.orchestratorFunction;
