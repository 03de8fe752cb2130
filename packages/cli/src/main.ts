import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadTopology, type Topology } from '@atlas/core';
import { atlasHome } from '@atlas/db';
import { auditVerify } from './commands/audit';
import { chaos, isChaosAction, CHAOS_ACTIONS } from './commands/chaos';
import { deploy } from './commands/deploy';
import { down } from './commands/down';
import { failover } from './commands/failover';
import { login } from './commands/login';
import { residencyVerify } from './commands/residency';
import { parseBucketsOption } from './commands/residency-buckets';
import { replicationRepair, replicationSetup, replicationStatusCommand } from './commands/replication';
import { seed } from './commands/seed';
import { status } from './commands/status';
import { up } from './commands/up';
import { TSX_LOADER, waitFor } from './processes';
import { isAlive, readState } from './state';

const USAGE = `atlas — run and inspect a local three-region Atlas

Usage:
  atlas up [--detach] [--no-wan]
                             start every region (databases, replication, APIs); Ctrl-C stops all
  atlas replication setup [--config f]   publications + subscription mesh (idempotent)
  atlas replication status [--json]      every subscription: state, lag, errors, conflicts
  atlas replication repair [--config f]  anti-entropy pass over the global tables
  atlas down                 stop a cluster started with --detach
  atlas status [--json]      per region: readiness, edge health, replication lag, latency, failover state
  atlas failover --region <r>          planned switchover to the region's standby, no loss
  atlas chaos kill-region|revive|kill-db <r>   drill a failure
  atlas seed                 load demo organizations into every region
  atlas login --org <id> --email <e>   print a dev token (APIs with ATLAS_DEV_AUTH=1)
  atlas audit verify [--json]          check every region's audit hash chain
  atlas residency verify [--json] [--buckets '{"<region>":"<bucket>",…}' [--s3-endpoint <url>]]
                             plant canaries, prove none leaves its region (and, with
                             --buckets, that no other jurisdiction's documents bucket holds one)
  atlas deploy <tag> --stack <name> [--regions a,b] [--canary <r>] [--dry-run]
                             build, push, migrate and update every AWS region (infra/)
  atlas help                 this text

Environment:
  ATLAS_HOME       where data lives (default ./.atlas)
  ATLAS_TOPOLOGY   topology file (default config/topology.json)
  ATLAS_EDGE_PORT  the edge router's port, which also serves the web app (default 8080)
  ATLAS_WEB        off: neither build nor serve the web app (packages/web)
  ATLAS_ORCHESTRATOR_PORT  the failover orchestrator's control port (default 8099)
  ATLAS_PROBE_TIMEOUT_MS   how long the orchestrator waits for a database probe (default 1000)
`;

const log = (line: string) => process.stdout.write(`${line}\n`);

async function startDetached(home: string, topologyPath: string | undefined, topology: Topology, args: string[]): Promise<number> {
  await mkdir(home, { recursive: true });
  const out = await open(join(home, 'atlas.log'), 'a');
  const child = spawn(process.execPath, ['--import', TSX_LOADER, new URL(import.meta.url).pathname, 'up', ...args], {
    detached: true,
    stdio: ['ignore', out.fd, out.fd],
    env: { ...process.env, ATLAS_DETACHED: '1', ATLAS_HOME: home, ...(topologyPath ? { ATLAS_TOPOLOGY: topologyPath } : {}) },
  });
  child.unref();
  await out.close();
  log(`starting Atlas in the background (pid ${child.pid}); progress in ${join(home, 'atlas.log')}`);
  const ready = await waitFor(async () => {
    if (!isAlive(child.pid)) throw new Error('exited');
    return (await readState(home))?.ready === true;
  }, 120_000, 250);
  if (!ready) {
    log(`Atlas did not become ready; see ${join(home, 'atlas.log')}`);
    return 1;
  }
  return status({ topology, home, json: false, log });
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { detach: { type: 'boolean', default: false }, 'no-wan': { type: 'boolean', default: false }, config: { type: 'string' }, json: { type: 'boolean', default: false }, org: { type: 'string' }, email: { type: 'string' }, region: { type: 'string' }, stack: { type: 'string' }, regions: { type: 'string' }, canary: { type: 'string' }, buckets: { type: 'string' }, 's3-endpoint': { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  const command = positionals[0] ?? 'help';
  if (values.help || command === 'help') {
    log(USAGE);
    return 0;
  }
  const topologyPath = process.env.ATLAS_TOPOLOGY ? resolve(process.env.ATLAS_TOPOLOGY) : undefined;
  const topology = loadTopology(topologyPath);
  const home = atlasHome();
  const edgePort = process.env.ATLAS_EDGE_PORT ? Number(process.env.ATLAS_EDGE_PORT) : undefined;
  switch (command) {
    case 'up':
      if (values.detach) return startDetached(home, topologyPath, topology, values['no-wan'] ? ['--no-wan'] : []);
      await up({ home, topology, topologyPath, log, detached: process.env.ATLAS_DETACHED === '1', wan: !values['no-wan'], web: process.env.ATLAS_WEB !== 'off', ...(edgePort ? { edgePort } : {}) });
      return -1; // keep running until a signal
    case 'down':
      await down({ home, topology, log });
      return 0;
    case 'status':
      return status({ topology, home, json: values.json, log, ...(edgePort ? { edgePort } : {}) });
    case 'replication': {
      const sub = positionals[1];
      const configPath = values.config ? resolve(values.config) : undefined;
      if (sub === 'setup') return replicationSetup({ home, topology, configPath, log });
      if (sub === 'repair') return replicationRepair({ home, topology, configPath, log });
      if (sub === 'status') return replicationStatusCommand({ home, topology, configPath, json: values.json, log });
      process.stderr.write(`atlas: replication needs setup, status or repair\n\n${USAGE}`);
      return 2;
    }
    case 'login':
      return login({ topology, orgId: values.org, email: values.email, log });
    case 'audit':
      if (positionals[1] === 'verify') return auditVerify({ home, topology, json: values.json, log });
      process.stderr.write(`atlas: audit needs verify\n\n${USAGE}`);
      return 2;
    case 'residency':
      if (positionals[1] === 'verify') {
        if (values['s3-endpoint'] && !values.buckets) {
          process.stderr.write(`atlas: --s3-endpoint is used only with --buckets\n\n${USAGE}`);
          return 2;
        }
        let buckets;
        try {
          buckets = values.buckets ? parseBucketsOption(values.buckets, topology, values['s3-endpoint']) : undefined;
        } catch (err) {
          process.stderr.write(`atlas: ${(err as Error).message}\n`);
          return 2;
        }
        return (await residencyVerify({ home, topology, json: values.json, log, ...(buckets ? { buckets } : {}) })).code;
      }
      process.stderr.write(`atlas: residency needs verify\n\n${USAGE}`);
      return 2;
    case 'failover':
      if (!values.region) {
        process.stderr.write(`atlas: failover needs --region <id>\n\n${USAGE}`);
        return 2;
      }
      return failover({ home, region: values.region, log });
    case 'chaos': {
      const action = positionals[1];
      const region = positionals[2];
      if (!isChaosAction(action) || !region) {
        process.stderr.write(`atlas: chaos needs one of ${CHAOS_ACTIONS.join(', ')} and a region\n\n${USAGE}`);
        return 2;
      }
      return chaos({ home, action, region, log });
    }
    case 'seed':
      await seed({ home, topology, log });
      return 0;
    case 'deploy':
      return deploy({ topology, tag: positionals[1], stack: values.stack, regions: values.regions, canary: values.canary, dryRun: values['dry-run'], log });
    default:
      process.stderr.write(`atlas: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: Error) => {
    process.stderr.write(`atlas: ${err.message}\n`);
    process.exit(1);
  },
);
