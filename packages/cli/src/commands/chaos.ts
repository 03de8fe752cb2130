import { callControl, controlUrl, type ChaosResult } from '@atlas/orchestrator';

export const CHAOS_ACTIONS = ['kill-region', 'revive', 'kill-db'] as const;
export type ChaosAction = (typeof CHAOS_ACTIONS)[number];

export function isChaosAction(value: string | undefined): value is ChaosAction {
  return (CHAOS_ACTIONS as readonly string[]).includes(value ?? '');
}

const WHAT: Record<ChaosAction, string> = {
  'kill-region': 'every database server in the region killed (kill -9), its database address refusing connections, its API frozen (SIGSTOP)',
  revive: 'API thawed, database address open again, primary restarted in place if no failover replaced it; standbys are rebuilt by the orchestrator',
  'kill-db': "the region's primary killed (kill -9, postmaster and children); the orchestrator fails over to the standby",
};

/** `atlas chaos kill-region <r>` / `revive <r>` / `kill-db <r>`: drills on a running cluster. */
export async function chaos(options: { home: string; action: ChaosAction; region: string; log: (line: string) => void }): Promise<number> {
  const base = await controlUrl(options.home);
  const { status, body } = await callControl<ChaosResult & { error?: string }>(base, 'POST', `/chaos/${options.action}/${encodeURIComponent(options.region)}`);
  if (status !== 200) {
    options.log(`atlas chaos ${options.action}: ${body.error ?? `HTTP ${status}`}`);
    return 1;
  }
  options.log(`${options.region}: ${options.action} — ${WHAT[options.action]}`);
  options.log(JSON.stringify(body.detail, null, 2));
  options.log('watch it with `atlas status` (failover state per region)');
  return 0;
}
