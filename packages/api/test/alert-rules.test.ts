import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@atlas/db';
import { buildApp } from '@atlas/api';
import { apiConfig, cluster } from '../../../test/support/regions';

const run = promisify(execFile);
const RULES_DIR = fileURLToPath(new URL('../../../ops/prometheus/', import.meta.url));

/** Metric names an expression uses: atlas_* identifiers (PromQL functions and labels are not). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(atlas_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

describe('Prometheus alert rules', () => {
  it('pass promtool check and their unit tests', async () => {
    const check = await run('promtool', ['check', 'rules', 'atlas-alerts.yml'], { cwd: RULES_DIR });
    expect(check.stdout).toMatch(/SUCCESS: \d+ rules found/);
    const test = await run('promtool', ['test', 'rules', 'atlas-alerts.test.yml'], { cwd: RULES_DIR });
    expect(test.stdout).toContain('SUCCESS');
  });

  describe('name only metrics the services expose', () => {
    let exposed = '';
    let close: () => Promise<void>;

    beforeAll(async () => {
      // The API with replication monitoring on, as `atlas up` runs it.
      const config = { ...apiConfig('eu-west-1'), adminDatabaseUrl: cluster().databases['eu-west-1']!.adminUrl };
      const db = createDb(config.databaseUrl, { max: 2 });
      const app = await buildApp(config, db, { logger: false });
      await app.ready();
      exposed = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      close = async () => {
        await app.close();
        await db.destroy();
      };
    });
    afterAll(() => close());

    it('every atlas_* metric in the rules is exposed by the API or the orchestrator', async () => {
      const rules = await readFile(`${RULES_DIR}/atlas-alerts.yml`, 'utf8');
      const used = new Set([...rules.matchAll(/expr: (.+)/g)].flatMap((m) => metricsIn(m[1]!)));
      expect(used.size).toBeGreaterThan(4);
      const { ORCHESTRATOR_METRIC_NAMES } = await import('@atlas/orchestrator');
      const declared = (name: string) => exposed.includes(`# TYPE ${name} `) || (ORCHESTRATOR_METRIC_NAMES as readonly string[]).includes(name);
      expect([...used].filter((name) => !declared(name))).toEqual([]);
    });
  });
});
