import type { RegionConfig } from '@atlas/core';

export interface ProbeResult {
  readonly toRegion: string;
  readonly rttMs: number | null;
}

/**
 * Measures the round trip to every other region's /healthz, in parallel, once. A failed or
 * timed-out probe reports null: it is a health signal, not a latency sample.
 */
export async function probePeers(peers: ReadonlyArray<{ region: RegionConfig; url: string }>, timeoutMs: number): Promise<ProbeResult[]> {
  return Promise.all(
    peers.map(async ({ region, url }) => {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer();
        return { toRegion: region.id, rttMs: res.ok ? performance.now() - started : null };
      } catch {
        return { toRegion: region.id, rttMs: null };
      }
    }),
  );
}

/** Exponentially weighted moving average: the routing signal, smoother than one probe. */
export function ewma(previous: number | undefined, sample: number, alpha = 0.3): number {
  return previous === undefined ? sample : alpha * sample + (1 - alpha) * previous;
}
