/** How one step of a long operation ended (STYLE rule 7: steps report, they don't throw). */
export type StepStatus = 'done' | 'failed' | 'not_run';

export interface StepResult {
  readonly step: string;
  readonly status: StepStatus;
  readonly startedAt?: Date;
  readonly finishedAt?: Date;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface Step {
  readonly name: string;
  /** Returns details worth recording; throws to fail the step (and skip the rest). */
  readonly run: () => Promise<Readonly<Record<string, unknown>> | void>;
}

export interface StepsReport {
  readonly ok: boolean;
  readonly steps: readonly StepResult[];
}

/** Runs steps in order; the first failure marks every later step not_run. */
export async function runSteps(steps: readonly Step[], onStep?: (result: StepResult) => void): Promise<StepsReport> {
  const results: StepResult[] = [];
  let failed = false;
  for (const step of steps) {
    if (failed) {
      results.push({ step: step.name, status: 'not_run', detail: {} });
      continue;
    }
    const startedAt = new Date();
    let result: StepResult;
    try {
      const detail = (await step.run()) ?? {};
      result = { step: step.name, status: 'done', startedAt, finishedAt: new Date(), detail };
    } catch (err) {
      failed = true;
      result = { step: step.name, status: 'failed', startedAt, finishedAt: new Date(), detail: { error: (err as Error).message } };
    }
    results.push(result);
    onStep?.(result);
  }
  return { ok: !failed, steps: results };
}

/** The first failed step's error, for a one-line message. */
export function firstError(report: StepsReport): string | undefined {
  const failed = report.steps.find((s) => s.status === 'failed');
  return failed ? `${failed.step}: ${String(failed.detail.error)}` : undefined;
}
