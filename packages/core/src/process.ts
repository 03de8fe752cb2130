/**
 * Graceful stop of a long-running process (an API, the edge): the first SIGTERM or SIGINT runs
 * `stop` once; the process exits 0 when it resolves, 1 when it rejects or is still running
 * after `graceMs`. Later signals while it runs change nothing.
 */
export function stopOnSignals(
  stop: () => Promise<void>,
  options: { readonly onSignal?: (signal: NodeJS.Signals) => void; readonly graceMs?: number; readonly name?: string } = {},
): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    options.onSignal?.(signal);
    setTimeout(() => {
      process.stderr.write(`${options.name ?? 'atlas'}: not stopped within ${options.graceMs ?? 10_000} ms of ${signal}; exiting\n`);
      process.exit(1);
    }, options.graceMs ?? 10_000).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${options.name ?? 'atlas'}: stopping failed: ${(err as Error).message ?? String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
