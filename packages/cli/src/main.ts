import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadTopology, type Topology } from '@atlas/core';
import { atlasHome } from '@atlas/db';
import { down } from './commands/down';
import { seed } from './commands/seed';
import { status } from './commands/status';
import { up } from './commands/up';
import { TSX_LOADER, waitFor } from './processes';
import { isAlive, readState } from './state';

const USAGE = `atlas — run and inspect a local three-region Atlas

Usage:
  atlas up [--detach]        start every region (databases, APIs); Ctrl-C stops all
  atlas down                 stop a cluster started with --detach
  atlas status [--json]      each region's API, database and readiness
  atlas seed                 load demo organizations into every region
  atlas help                 this text

Environment:
  ATLAS_HOME       where data lives (default ./.atlas)
  ATLAS_TOPOLOGY   topology file (default config/topology.json)
`;

const log = (line: string) => process.stdout.write(`${line}\n`);

async function startDetached(home: string, topologyPath: string | undefined, topology: Topology): Promise<number> {
  await mkdir(home, { recursive: true });
  const out = await open(join(home, 'atlas.log'), 'a');
  const child = spawn(process.execPath, ['--import', TSX_LOADER, new URL(import.meta.url).pathname, 'up'], {
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
  return status({ topology, json: false, log });
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { detach: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  const command = positionals[0] ?? 'help';
  if (values.help || command === 'help') {
    log(USAGE);
    return 0;
  }
  const topologyPath = process.env.ATLAS_TOPOLOGY ? resolve(process.env.ATLAS_TOPOLOGY) : undefined;
  const topology = loadTopology(topologyPath);
  const home = atlasHome();
  switch (command) {
    case 'up':
      if (values.detach) return startDetached(home, topologyPath, topology);
      await up({ home, topology, topologyPath, log, detached: process.env.ATLAS_DETACHED === '1' });
      return -1; // keep running until a signal
    case 'down':
      await down({ home, topology, log });
      return 0;
    case 'status':
      return status({ topology, json: values.json, log });
    case 'seed':
      await seed({ topology, log });
      return 0;
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
