/**
 * Latency as an exponentially weighted moving average of probe round trips. One slow probe
 * moves the average by `alpha` of the difference, so routing by latency does not flap on
 * noise but follows a lasting change within a few probes.
 */
export const DEFAULT_EWMA_ALPHA = 0.3;

export function updateEwma(previous: number | null, sampleMs: number, alpha: number = DEFAULT_EWMA_ALPHA): number {
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`EWMA alpha must be in (0, 1], got ${alpha}`);
  if (!Number.isFinite(sampleMs) || sampleMs < 0) return previous ?? 0;
  // The first sample is the average: there is nothing to weigh it against.
  return previous === null ? sampleMs : previous + alpha * (sampleMs - previous);
}
