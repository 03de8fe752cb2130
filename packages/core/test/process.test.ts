import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/stop-on-signals.ts', import.meta.url));

/** Starts the fixture, sends `signals` once it is ready, and returns how it ended. */
async function run(how: 'ok' | 'hang' | 'fail', signals: NodeJS.Signals[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, how], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    }),
  );
  for (const signal of signals) child.kill(signal);
  return { code: await exited, out, err };
}

describe('stopOnSignals', () => {
  it('runs the stop once however many signals arrive, then exits 0', async () => {
    const { code, out } = await run('ok', ['SIGTERM', 'SIGINT', 'SIGTERM']);
    expect(code).toBe(0);
    expect(out.match(/stop \d/g)).toEqual(['stop 1']);
    // Pending signals are delivered in the kernel's order, not the sending order: one is handled.
    expect(out.match(/signal SIG\w+/g)).toHaveLength(1);
  });

  it('exits 1 with a message when the stop fails', async () => {
    const { code, err } = await run('fail', ['SIGINT']);
    expect(code).toBe(1);
    expect(err).toContain('fixture: stopping failed: the pool would not close');
  });

  it('exits 1 when the stop is still running after the grace period', async () => {
    const { code, err } = await run('hang', ['SIGTERM']);
    expect(code).toBe(1);
    expect(err).toContain('fixture: not stopped within 500 ms of SIGTERM');
  });
});
