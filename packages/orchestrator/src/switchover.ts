import { PgNode, nodeUrl, promoteStandby, readControlFile, runSteps, waitForReplay, type NodeLocation, type StepResult } from '@atlas/db';
import type { DbForwarder } from './db-forwarder';

export interface SwitchoverResult {
  readonly ok: boolean;
  readonly failoverId: string | null;
  readonly steps: readonly StepResult[];
  readonly message: string;
  /** Writes were held from this instant… */
  readonly heldAt?: number;
  /** …until this one (new connections reach the new primary). */
  readonly releasedAt?: number;
}

export interface SwitchoverInput {
  readonly region: string;
  readonly primary: NodeLocation;
  readonly standby: NodeLocation;
  readonly superuserPassword: string;
  readonly forwarder: DbForwarder;
  /** Swaps the recorded roles once the standby is promoted; returns the new primary's port. */
  readonly onPromoted: () => Promise<number>;
  readonly replayTimeoutMs?: number;
}

/**
 * A planned switchover with no loss: hold new connections at the forwarder (open ones are
 * closed), stop the old primary cleanly — a fast shutdown streams everything up to its
 * shutdown checkpoint to the connected standby, including the peers' replicated changes,
 * which do not wait for the standby — read that checkpoint from pg_control, wait until the
 * standby has replayed past it, promote, release the held connections to the new primary.
 * If anything fails before the promotion, the old primary is started again and serves on.
 */
export async function plannedSwitchoverSteps(input: SwitchoverInput): Promise<SwitchoverResult & { readonly promoted: boolean }> {
  const oldPrimary = new PgNode({ dataDir: input.primary.dataDir, port: input.primary.port, superuserPassword: input.superuserPassword });
  let promoted = false;
  let heldAt: number | undefined;
  let releasedAt: number | undefined;
  let lastLsn = '';
  const report = await runSteps([
    {
      name: 'hold-writes',
      run: async () => {
        heldAt = Date.now();
        input.forwarder.hold();
        return { forwarderPort: input.forwarder.port };
      },
    },
    {
      name: 'stop-old-primary',
      run: async () => {
        await oldPrimary.stop('fast');
        const control = await readControlFile(input.primary.dataDir);
        if (control.state !== 'shut down') throw new Error(`old primary is '${control.state}' after stop, not 'shut down'`);
        lastLsn = control.checkpointLsn;
        return { lastLsn };
      },
    },
    {
      name: 'wait-replay',
      run: async () => {
        // Strictly past the shutdown checkpoint's start: the checkpoint record itself replayed.
        const url = nodeUrl(input.standby.port, input.superuserPassword);
        await waitForReplay(url, lastLsn, input.replayTimeoutMs ?? 10_000, true);
        return { replayedPast: lastLsn };
      },
    },
    {
      name: 'promote',
      run: async () => {
        const result = await promoteStandby({ standby: input.standby, superuserPassword: input.superuserPassword });
        promoted = true;
        const port = await input.onPromoted();
        return { ...result, newPrimaryPort: port };
      },
    },
    {
      name: 'repoint-api',
      run: async () => {
        input.forwarder.release(input.standby.port);
        releasedAt = Date.now();
        return { target: input.standby.port, heldMs: releasedAt - (heldAt ?? releasedAt) };
      },
    },
  ]);
  if (!report.ok && !promoted) {
    // Nothing changed hands: the old primary (stopped cleanly) serves again.
    await oldPrimary.start().catch(() => undefined);
    input.forwarder.release(input.primary.port);
    releasedAt = Date.now();
  } else if (!report.ok) {
    input.forwarder.release(input.standby.port);
    releasedAt = Date.now();
  }
  const failed = report.steps.find((s) => s.status === 'failed');
  return {
    ok: report.ok,
    promoted,
    failoverId: null,
    steps: report.steps,
    message: failed ? `${failed.step} failed: ${String(failed.detail.error)}` : 'switched over with no loss',
    ...(heldAt !== undefined ? { heldAt } : {}),
    ...(releasedAt !== undefined ? { releasedAt } : {}),
  };
}
