/**
 * Graceful stop of a long-running process (an API, the edge): the first SIGTERM or SIGINT runs
 * `stop` once; the process exits 0 when it resolves, 1 when it rejects or is still running
 * after `graceMs`. Later signals while it runs change nothing.
 */
export function stopOnSignals(
  stop: () => Promise<void>,
  options: { readonly onSignal?: (signal: NodeJS.Signals) => void; readonly graceMs?: number; readonly name?: string } = {},
): void {
  const { name = 'atlas', graceMs = 10_000, onSignal } = options;
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    onSignal?.(signal);
    setTimeout(() => {
      process.stderr.write(`${name}: not stopped within ${graceMs} ms of ${signal}; exiting\n`);
      process.exit(1);
    }, graceMs).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${name}: stopping failed: ${(err as Error).message ?? String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
