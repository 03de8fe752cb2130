import type { Topology } from '@atlas/core';
import { DelayProxy, oneWayDelayMs, type LinkEndpoint } from '@atlas/db';

/**
 * The simulated WAN of the local cluster: a latency-injecting proxy on every cross-region
 * link, replication (subscriber → publisher's database) and API (a region's probes → another
 * region's API), each delayed by half the topology's round trip in each direction.
 */
export interface Wan {
  /** Where subscriber `to` reaches publisher `from`'s database. */
  dbLink(link: { from: string; to: string }): LinkEndpoint;
  /** Base URLs of the other regions' APIs as `region` reaches them. */
  apiPeers(region: string): Record<string, string>;
  readonly proxies: number;
  close(): Promise<void>;
}

export async function startWan(
  topology: Topology,
  options: { enabled: boolean; /** Where a region's database is reached (its forwarder); default dbPort. */ dbPort?: (region: string) => number },
): Promise<Wan> {
  const dbPortOf = (id: string) => options.dbPort?.(id) ?? topology.regions.find((r) => r.id === id)!.dbPort;
  const db = new Map<string, DelayProxy>();
  const api = new Map<string, DelayProxy>();
  const key = (from: string, to: string) => `${from}>${to}`;
  if (options.enabled) {
    for (const from of topology.regions) {
      for (const to of topology.regions) {
        if (from.id === to.id) continue;
        const delayMs = oneWayDelayMs(topology, from.id, to.id);
        // Subscriber `to` connects to publisher `from`.
        db.set(key(from.id, to.id), await DelayProxy.start({ target: { host: '127.0.0.1', port: dbPortOf(from.id) }, delayMs }));
        // Region `from` calls region `to`'s API.
        api.set(key(from.id, to.id), await DelayProxy.start({ target: { host: '127.0.0.1', port: to.apiPort }, delayMs }));
      }
    }
  }
  return {
    dbLink: ({ from, to }) => {
      const proxy = db.get(key(from, to));
      return proxy ? { host: '127.0.0.1', port: proxy.port } : { host: '127.0.0.1', port: dbPortOf(from) };
    },
    apiPeers: (from) =>
      Object.fromEntries(
        topology.regions
          .filter((r) => r.id !== from)
          .map((r) => [r.id, `http://127.0.0.1:${api.get(key(from, r.id))?.port ?? r.apiPort}`]),
      ),
    proxies: db.size + api.size,
    close: async () => {
      await Promise.all([...db.values(), ...api.values()].map((p) => p.close()));
    },
  };
}
