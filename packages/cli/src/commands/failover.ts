import { callControl, controlUrl, type SwitchoverResult } from '@atlas/orchestrator';
import { renderTable } from '../table';

/**
 * `atlas failover --region <r>`: a planned switchover with no loss, run by the orchestrator
 * of the running cluster (over its control port). Exit code 0 when it switched over.
 */
export async function failover(options: { home: string; region: string; log: (line: string) => void }): Promise<number> {
  const { log } = options;
  const base = await controlUrl(options.home);
  log(`${options.region}: planned switchover (writes held, standby catches up, promoted, API repointed)…`);
  const { status, body } = await callControl<SwitchoverResult & { error?: string }>(base, 'POST', `/regions/${encodeURIComponent(options.region)}/switchover`);
  if (body.error) {
    log(`atlas failover: ${body.error}`);
    return 1;
  }
  if (body.steps.length > 0) {
    log(
      renderTable(
        ['step', 'status', 'ms', 'detail'],
        body.steps.map((s) => [
          s.step,
          s.status,
          s.startedAt && s.finishedAt ? String(new Date(s.finishedAt).getTime() - new Date(s.startedAt).getTime()) : '',
          s.status === 'failed' ? String(s.detail.error) : '',
        ]),
      ),
    );
  }
  if (body.heldAt !== undefined && body.releasedAt !== undefined) log(`writes held for ${body.releasedAt - body.heldAt} ms`);
  log(body.ok ? `${options.region}: ${body.message}; the old primary is being rebuilt as the new standby (see \`atlas status\`)` : `${options.region}: ${body.message}`);
  return status === 200 && body.ok ? 0 : 1;
}
