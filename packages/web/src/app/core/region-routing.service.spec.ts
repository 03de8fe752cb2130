import { TestBed } from '@angular/core/testing';
import { CLOCK, FETCH, NAVIGATOR, STORAGE, TIMERS, WALL_CLOCK } from './browser.tokens';
import { DEFAULT_REGION_ROUTING, HEALTH_INTERVAL_KEY, REGION_HINT_HEADER, RegionRoutingService } from './region-routing.service';
import { FakeTimers, MemoryStorage, REGIONS, fakeClock, jsonResponse, type FakeClock } from './testing';

/**
 * The edge, scripted: per region, whether it answers and how long it takes. A hinted probe of
 * a down region is answered by another region (the edge's failover), as the real edge does.
 */
class FakeEdge {
  latency: Record<string, number> = { 'eu-west-1': 40, 'us-east-1': 90, 'ap-southeast-1': 200 };
  down = new Set<string>();
  detected = 'eu-west-1';
  readonly calls: { url: string; hint: string | null; method: string; body?: string }[] = [];
  constructor(private readonly clock: FakeClock) {}

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const headers = new Headers(init?.headers);
    const hint = headers.get(REGION_HINT_HEADER);
    this.calls.push({ url, hint, method: init?.method ?? 'GET', ...(typeof init?.body === 'string' ? { body: init.body } : {}) });
    if (url === '/api/metrics/latency') return jsonResponse({ accepted: 1 }, 202);
    if (url === '/api/regions') {
      await this.clock.after(this.latency[this.detected]!);
      return jsonResponse({ current: this.detected, regions: REGIONS }, 200, {
        'atlas-region': this.detected,
        'atlas-route-reason': 'country:FR',
      });
    }
    const target = hint ?? this.detected;
    if (!this.down.has(target)) {
      await this.clock.after(this.latency[target]!);
      return jsonResponse({ region: target }, 200, { 'atlas-region': target, 'atlas-route-reason': 'client-choice' });
    }
    const other = REGIONS.map((r) => r.region).find((r) => !this.down.has(r));
    if (!other) return jsonResponse({ error: { code: 'ATLAS_ERR_REGION_UNAVAILABLE', message: 'none' } }, 503, { 'atlas-region': 'edge' });
    await this.clock.after(this.latency[other]!);
    return jsonResponse({ region: other }, 200, {
      'atlas-region': other,
      'atlas-route-reason': 'failover:global',
      'atlas-route-preferred': target,
    });
  };
}

function setup(storage = new MemoryStorage(), network = { onLine: true, language: 'en' }) {
  const clock = fakeClock();
  const timers = new FakeTimers();
  const edge = new FakeEdge(clock);
  TestBed.configureTestingModule({
    providers: [
      { provide: FETCH, useValue: edge.fetch },
      { provide: CLOCK, useValue: clock.now },
      { provide: WALL_CLOCK, useValue: () => 1_700_000_000_000 },
      { provide: TIMERS, useValue: timers },
      { provide: STORAGE, useValue: storage },
      { provide: NAVIGATOR, useValue: network },
    ],
  });
  return { service: TestBed.inject(RegionRoutingService), edge, timers, storage, network };
}

describe('RegionRoutingService', () => {
  it("detects the edge's region, measures every region through the edge and uses the detected one", async () => {
    const { service, edge } = setup();
    await service.start();
    expect(service.detected()).toEqual({ region: 'eu-west-1', reason: 'country:FR' });
    expect(service.current()).toBe('eu-west-1');
    expect(service.manual()).toBe(false);
    const probes = edge.calls
      .filter((c) => c.url === '/api/regions/current')
      .map((c) => c.hint)
      .sort();
    expect(probes).toEqual(['ap-southeast-1', 'eu-west-1', 'us-east-1']);
    expect(service.health()['us-east-1']).toMatchObject({ state: 'up', latencyMs: 90 });
    expect(service.ranked().map((r) => r.region)).toEqual(['eu-west-1', 'us-east-1', 'ap-southeast-1']);
    expect(service.loading()).toBe(false);
  });

  it('checks health on a timer of the configured interval (30 s by default)', async () => {
    const { service, timers } = setup();
    await service.start();
    expect([...timers.intervals.values()].map((t) => t.ms)).toEqual([DEFAULT_REGION_ROUTING.healthIntervalMs]);
    service.ngOnDestroy();
    expect(timers.intervals.size).toBe(0);
  });

  it('takes the interval from storage when an operator or a test sets it', async () => {
    const storage = new MemoryStorage();
    storage.setItem(HEALTH_INTERVAL_KEY, '1500');
    const { service, timers } = setup(storage);
    await service.start();
    expect([...timers.intervals.values()].map((t) => t.ms)).toEqual([1500]);
  });

  it('fails over only after two failed checks in a row (hysteresis), to the fastest healthy region', async () => {
    const { service, edge } = setup();
    await service.start();
    edge.down.add('eu-west-1');
    await service.checkAll();
    expect(service.health()['eu-west-1']).toMatchObject({ state: 'up', consecutiveFailures: 1 });
    expect(service.current()).toBe('eu-west-1');
    await service.checkAll();
    expect(service.health()['eu-west-1']!.state).toBe('down');
    expect(service.health()['eu-west-1']!.lastError).toContain('the edge sent the probe to');
    expect(service.current()).toBe('us-east-1');
    expect(service.events()[0]).toMatchObject({ kind: 'failover', message: 'eu-west-1 → us-east-1 (failover)' });
  });

  it('puts a region back only after two good checks in a row, then returns to the detected region', async () => {
    const { service, edge } = setup();
    await service.start();
    edge.down.add('eu-west-1');
    await service.checkAll();
    await service.checkAll();
    edge.down.delete('eu-west-1');
    await service.checkAll();
    expect(service.health()['eu-west-1']!.state).toBe('down');
    expect(service.current()).toBe('us-east-1');
    await service.checkAll();
    expect(service.health()['eu-west-1']!.state).toBe('up');
    expect(service.current()).toBe('eu-west-1');
  });

  it('keeps the detected region while it is up even when another is faster, and leaves it when it fails', async () => {
    const { service, edge } = setup();
    edge.detected = 'ap-southeast-1';
    await service.start();
    // Detected region is kept while it is up, whatever the latency.
    expect(service.current()).toBe('ap-southeast-1');
    edge.down.add('ap-southeast-1');
    await service.checkAll();
    await service.checkAll();
    expect(service.current()).toBe('eu-west-1');
  });

  it('keeps a manual choice while it is up, persists it, and refuses a down region', async () => {
    const { service, edge, storage } = setup();
    await service.start();
    expect(service.switchRegion('ap-southeast-1')).toBe(true);
    expect(service.current()).toBe('ap-southeast-1');
    expect(storage.getItem('atlas.region')).toBe('ap-southeast-1');
    await service.checkAll();
    expect(service.current()).toBe('ap-southeast-1');
    edge.down.add('us-east-1');
    await service.checkAll();
    await service.checkAll();
    expect(service.switchRegion('us-east-1')).toBe(false);
    expect(service.switchRegion('mars-1')).toBe(false);
    expect(service.current()).toBe('ap-southeast-1');
  });

  it('pins the region in use when it is chosen by hand, so a recovered region does not take over', async () => {
    const { service, edge, storage } = setup();
    await service.start();
    edge.down.add('eu-west-1');
    await service.checkAll();
    await service.checkAll();
    expect(service.current()).toBe('us-east-1');
    expect(service.manual()).toBe(false);
    expect(service.switchRegion('us-east-1')).toBe(true);
    expect(service.switchRegion('us-east-1')).toBe(true);
    expect(service.manual()).toBe(true);
    expect(storage.getItem('atlas.region')).toBe('us-east-1');
    expect(service.events().filter((e) => e.kind === 'manual').map((e) => e.message)).toEqual(['kept us-east-1 by hand']);
    edge.down.delete('eu-west-1');
    await service.checkAll();
    await service.checkAll();
    expect(service.health()['eu-west-1']!.state).toBe('up');
    expect(service.current()).toBe('us-east-1');
    service.automatic();
    expect(service.current()).toBe('eu-west-1');
  });

  it('restores a manual choice after a reload', async () => {
    const storage = new MemoryStorage();
    storage.setItem('atlas.region', 'us-east-1');
    const { service } = setup(storage);
    await service.start();
    expect(service.current()).toBe('us-east-1');
    expect(service.manual()).toBe(true);
  });

  it('fails over from a manual region that goes down and becomes automatic again', async () => {
    const { service, edge, storage } = setup();
    await service.start();
    service.switchRegion('us-east-1');
    edge.down.add('us-east-1');
    await service.checkAll();
    await service.checkAll();
    expect(service.current()).toBe('eu-west-1');
    expect(service.manual()).toBe(false);
    expect(storage.getItem('atlas.region')).toBeNull();
  });

  it('counts failures the interceptor reports, so real traffic fails over without waiting a whole interval', async () => {
    const { service } = setup();
    await service.start();
    service.reportFailure('eu-west-1', 'HTTP 503');
    expect(service.current()).toBe('eu-west-1');
    service.reportFailure('eu-west-1', 'HTTP 503');
    expect(service.health()['eu-west-1']!.state).toBe('down');
    expect(service.current()).toBe('us-east-1');
    expect(service.failoverCandidates(['us-east-1'])).toEqual(['ap-southeast-1']);
  });

  it('blames no region while the browser is offline', async () => {
    const { service, edge, network } = setup();
    await service.start();
    network.onLine = false;
    edge.down.add('eu-west-1');
    await service.checkAll();
    await service.checkAll();
    service.reportFailure('eu-west-1', 'network error');
    expect(service.offline()).toBe(true);
    expect(service.health()['eu-west-1']).toMatchObject({ state: 'up', consecutiveFailures: 0 });
    expect(service.current()).toBe('eu-west-1');
    network.onLine = true;
    await service.checkAll();
    expect(service.offline()).toBe(false);
    expect(service.health()['eu-west-1']!.consecutiveFailures).toBe(1);
  });

  it('reports no region when every one is down, and says so', async () => {
    const { service, edge } = setup();
    await service.start();
    for (const r of ['eu-west-1', 'us-east-1', 'ap-southeast-1']) edge.down.add(r);
    await service.checkAll();
    await service.checkAll();
    expect(service.ranked()).toEqual([]);
    expect(service.events()[0]!.message).toContain('no region answers');
  });

  it('reports its measured round trips with POST /api/metrics/latency', async () => {
    const { service, edge, timers } = setup();
    await service.start();
    timers.runTimeouts();
    await Promise.resolve();
    const report = edge.calls.find((c) => c.url === '/api/metrics/latency');
    expect(report?.method).toBe('POST');
    const samples = JSON.parse(report!.body!).samples as { toRegion: string; rttMs: number }[];
    expect(samples).toEqual(
      expect.arrayContaining([
        { toRegion: 'us-east-1', rttMs: 90 },
        { toRegion: 'ap-southeast-1', rttMs: 200 },
      ]),
    );
  });

  it('shows an error when the edge cannot be reached at all', async () => {
    const clock = fakeClock();
    TestBed.configureTestingModule({
      providers: [
        { provide: FETCH, useValue: () => Promise.reject(new TypeError('Failed to fetch')) },
        { provide: CLOCK, useValue: clock.now },
        { provide: TIMERS, useValue: new FakeTimers() },
        { provide: STORAGE, useValue: new MemoryStorage() },
      ],
    });
    const service = TestBed.inject(RegionRoutingService);
    await service.start();
    expect(service.error()).toBe('cannot reach Atlas: Failed to fetch');
    expect(service.loading()).toBe(false);
  });
});
