/**
 * Prints what the planners derive from the topology, without Pulumi or credentials:
 *   npx tsx infra/scripts/show-plan.ts [routing|network|backup|deploy] [--tag 1.0.0]
 * ATLAS_TOPOLOGY selects another topology file, as for `npm start`.
 */
import { loadTopology } from '@atlas/core';
import { formatPlan, planDeploy } from '../deploy';
import { planBackupCopies } from '../planners/backup.planner';
import { planCloudflare } from '../planners/cloudflare.planner';
import { planCloudHealth } from '../planners/health.planner';
import { planRoute53 } from '../planners/route53.planner';
import { planRegionCidrs, planSubnets } from '../planners/subnets.planner';

const [what = 'routing', ...rest] = process.argv.slice(2);
const topology = loadTopology();
const health = planCloudHealth(topology, { intervalSeconds: 30 });
const naming = { domain: 'origin.atlas.example.com' };
const print = (line = ''): void => void process.stdout.write(`${line}\n`);

switch (what) {
  case 'routing': {
    const cf = planCloudflare({ topology, health, naming, healthPath: '/readyz', stack: 'production' });
    print(`health: every ${health.intervalSeconds} s, down after ${health.downAfter}, up after ${health.upAfter} (local: ${topology.health.intervalMs} ms)`);
    print(`cloudflare default pools: ${cf.defaultPools.join(' → ')}; fallback ${cf.fallbackPool}`);
    for (const [country, pools] of Object.entries(cf.countryPools)) print(`  ${country}: ${pools.join(' → ')}`);
    const r53 = planRoute53(topology, health, naming, '/readyz');
    print(`route53: ${r53.records.length} records, ${r53.healthChecks.length} health checks`);
    for (const r of r53.records.filter((x) => !x.geolocationCountry || x.geolocationCountry === '*')) {
      print(`  ${r.name} ${r.setIdentifier ?? ''} → ${r.target.kind === 'alb' ? `ALB ${r.target.region}` : r.target.name}`);
    }
    break;
  }
  case 'network': {
    const cidrs = planRegionCidrs('10.0.0.0/10', topology.regions.map((r) => r.id));
    for (const [region, cidr] of Object.entries(cidrs)) {
      print(`${region} ${cidr}`);
      for (const s of planSubnets(cidr, 3)) print(`  az${s.az} ${s.tier.padEnd(7)} ${s.cidr}`);
    }
    break;
  }
  case 'backup':
    for (const p of planBackupCopies(topology)) print(`${p.source}: ${p.targets.length ? `copies to ${p.targets.join(', ')}` : 'no copy (no other region in its jurisdiction)'}`);
    break;
  case 'deploy': {
    const at = rest.indexOf('--tag');
    print(formatPlan(planDeploy({ topology, tag: at >= 0 ? (rest[at + 1] ?? 'dev') : 'dev' })));
    break;
  }
  default:
    print('usage: show-plan.ts [routing|network|backup|deploy] [--tag <tag>]');
    process.exitCode = 2;
}
