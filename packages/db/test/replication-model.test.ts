import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareVersions, decideIncoming, decodeHlc, encodeHlc, hlcNext, hlcObserve, loadTopology, maxVersion, type RowVersion } from '@atlas/core';
import { DelayProxy, oneWayDelayMs, parseSubscriptionName, subscriptionName } from '@atlas/db';

const version = fc.record({
  hlc: fc.bigInt({ min: 0n, max: 1n << 62n }),
  origin: fc.constantFrom('eu-west-1', 'us-east-1', 'ap-southeast-1'),
  tombstone: fc.constantFrom<RowVersion['tombstone']>(null, 'deleted', 'erased'),
});

describe('the conflict rule (pure model)', () => {
  it('is a total order, so every region picks the same winner whatever the arrival order', () => {
    fc.assert(
      fc.property(fc.array(version, { minLength: 1, maxLength: 8 }), fc.integer(), (versions, seed) => {
        const shuffled = [...versions].sort(() => (seed = (seed * 1103515245 + 12345) | 0) & 1 ? 1 : -1);
        const a = maxVersion(versions)!;
        const b = maxVersion(shuffled)!;
        expect(compareVersions(a, b)).toBe(0);
        for (const v of versions) expect(compareVersions(a, v)).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('lets an erasure beat any later version that is not an erasure', () => {
    const erased = { hlc: 1n, origin: 'ap-southeast-1', tombstone: 'erased' as const };
    expect(compareVersions(erased, { hlc: 1n << 60n, origin: 'us-east-1', tombstone: null })).toBe(1);
    expect(compareVersions(erased, { hlc: 1n << 60n, origin: 'us-east-1', tombstone: 'deleted' })).toBe(1);
  });

  it('does not call a causal successor a conflict, and logs concurrent versions with both decisions', () => {
    const local = { hlc: 100n, origin: 'eu-west-1', tombstone: null, baseHlc: 0n, baseOrigin: null };
    const successor = { hlc: 200n, origin: 'us-east-1', tombstone: null, baseHlc: 100n, baseOrigin: 'eu-west-1' };
    const concurrent = { hlc: 150n, origin: 'us-east-1', tombstone: 'deleted' as const, baseHlc: 50n, baseOrigin: 'eu-west-1' };
    expect(decideIncoming(local, successor, 'update')).toEqual({ apply: true, conflict: null });
    expect(decideIncoming(successor, local, 'update')).toEqual({ apply: false, conflict: null });
    expect(decideIncoming(local, concurrent, 'update')).toEqual({ apply: true, conflict: { kind: 'delete_update', decision: 'remote_wins' } });
    expect(decideIncoming(local, { ...local, hlc: 90n, baseHlc: 1n }, 'insert')).toEqual({ apply: false, conflict: { kind: 'insert_exists', decision: 'local_wins' } });
    expect(decideIncoming(local, local, 'insert')).toEqual({ apply: false, conflict: null });
  });
});

describe('hybrid logical clock (pure model)', () => {
  it('is monotonic, never below the wall clock, and above any version it observed', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.record({ wall: fc.integer({ min: 0, max: 2 ** 40 }) }), fc.record({ remote: fc.bigInt({ min: 0n, max: 1n << 56n }) }))), (events) => {
        let last = 0n;
        let seen = 0n;
        for (const e of events) {
          if ('remote' in e) {
            last = hlcObserve(last, e.remote);
            seen = e.remote > seen ? e.remote : seen;
            continue;
          }
          const next = hlcNext(last, e.wall);
          expect(next).toBeGreaterThan(last);
          expect(next).toBeGreaterThan(seen);
          expect(decodeHlc(next).physicalMs).toBeGreaterThanOrEqual(e.wall);
          last = next;
        }
      }),
    );
    expect(decodeHlc(encodeHlc(1_700_000_000_123, 7))).toEqual({ physicalMs: 1_700_000_000_123, logical: 7 });
  });
});

describe('names', () => {
  it('derives subscription and slot names from the two region ids, and back', () => {
    expect(subscriptionName('eu-west-1', 'ap-southeast-1')).toBe('atlas_sub_eu_west_1_to_ap_southeast_1');
    expect(parseSubscriptionName('atlas_sub_eu_west_1_to_ap_southeast_1')).toEqual({ from: 'eu-west-1', to: 'ap-southeast-1' });
    expect(parseSubscriptionName('some_other_subscription')).toBeUndefined();
  });
});

async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((s) => s.pipe(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

describe('latency-injecting proxy', () => {
  it('delays each direction by the one-way latency, keeps the byte order, and counts', async () => {
    const echo = await echoServer();
    const proxy = await DelayProxy.start({ target: { host: '127.0.0.1', port: echo.port }, delayMs: 25 });
    const client: Socket = connect(proxy.port, '127.0.0.1');
    await once(client, 'connect');
    const received: Buffer[] = [];
    client.on('data', (d: Buffer) => received.push(d));
    const sent = Array.from({ length: 50 }, (_, i) => `chunk-${i};`);
    const started = performance.now();
    for (const s of sent) client.write(s);
    const total = sent.join('').length;
    while (Buffer.concat(received).length < total) await new Promise((r) => setTimeout(r, 5));
    // A round trip crosses the proxy twice: it can never be faster than two one-way delays.
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
    expect(Buffer.concat(received).toString()).toBe(sent.join(''));
    expect(proxy.counters()).toMatchObject({ connections: 1, activeConnections: 1, bytesUp: total, bytesDown: total });
    client.destroy();
    await proxy.close();
    await echo.close();
  });

  it('takes the one-way delay of a link from the topology round trips', () => {
    const topology = loadTopology();
    expect(oneWayDelayMs(topology, 'eu-west-1', 'us-east-1')).toBe(topology.rttMs['eu-west-1']!['us-east-1']! / 2);
    expect(() => oneWayDelayMs(topology, 'eu-west-1', 'mars-north-1')).toThrow(/no round-trip time/);
  });
});
