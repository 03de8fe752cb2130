import { HttpClient, HttpErrorResponse, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { firstValueFrom } from 'rxjs';
import { CLOCK, FETCH, RANDOM, STORAGE, TIMERS, WALL_CLOCK } from './browser.tokens';
import { LatencyReporter } from './latency-reporter.service';
import { ResidencyRefusal, backoffMs, regionInterceptor } from './region.interceptor';
import { REGION_HINT_HEADER, RegionRoutingService } from './region-routing.service';
import { UNKNOWN_HEALTH, type RegionHealth, type RegionInfo } from './regions';
import { FakeTimers, MemoryStorage, REGIONS, fakeClock } from './testing';

const EU_ORG = 'org_euw1_aaaaaaaaaaaaaaaaaaaa';
const up = (latencyMs: number): RegionHealth => ({ ...UNKNOWN_HEALTH, state: 'up', latencyMs });

function setup(regions: RegionInfo[] = REGIONS) {
  const clock = fakeClock();
  const timers = new FakeTimers();
  const fetched: string[] = [];
  TestBed.configureTestingModule({
    providers: [
      provideHttpClient(withInterceptors([regionInterceptor])),
      provideHttpClientTesting(),
      { provide: CLOCK, useValue: clock.now },
      { provide: WALL_CLOCK, useValue: () => 1_700_000_000_000 },
      { provide: TIMERS, useValue: timers },
      { provide: RANDOM, useValue: () => 0.5 },
      { provide: STORAGE, useValue: new MemoryStorage() },
      { provide: FETCH, useValue: (url: string) => (fetched.push(String(url)), Promise.resolve(new Response('{}', { status: 202 }))) },
    ],
  });
  const routing = TestBed.inject(RegionRoutingService);
  routing.regions.set(regions);
  routing.health.set(Object.fromEntries(regions.map((r, i) => [r.region, up(40 + i * 50)])));
  routing.current.set('eu-west-1');
  return {
    http: TestBed.inject(HttpClient),
    backend: TestBed.inject(HttpTestingController),
    routing,
    reporter: TestBed.inject(LatencyReporter),
    clock,
    timers,
  };
}

const unavailable = (region: string, reason?: string) => ({
  status: 503,
  statusText: 'Service Unavailable',
  headers: { 'atlas-region': region, ...(reason ? { 'atlas-route-reason': reason } : {}) },
});

describe('regionInterceptor', () => {
  afterEach(() => TestBed.inject(HttpTestingController).verify());

  it('sends global requests to the chosen region and reports the measured round trip', async () => {
    const { http, backend, reporter, clock } = setup();
    const result = firstValueFrom(http.get('/api/orgs'));
    const req = backend.expectOne('/api/orgs');
    expect(req.request.headers.get(REGION_HINT_HEADER)).toBe('eu-west-1');
    clock.advance(37);
    req.flush({ items: [] }, { headers: { 'atlas-region': 'eu-west-1' } });
    await result;
    expect(reporter.queued).toBe(1);
  });

  it("names an organization's home region for its regional data, whatever region is chosen", async () => {
    const { http, backend, routing } = setup();
    routing.current.set('ap-southeast-1');
    const result = firstValueFrom(http.get(`/api/orgs/${EU_ORG}/dossiers`));
    const req = backend.expectOne(`/api/orgs/${EU_ORG}/dossiers`);
    expect(req.request.headers.get(REGION_HINT_HEADER)).toBe('eu-west-1');
    req.flush({ items: [], nextCursor: null });
    await result;
  });

  it("keeps a region the caller named for a global request (an organization's home)", async () => {
    const { http, backend } = setup();
    const result = firstValueFrom(
      http.post('/api/orgs', { name: 'x', homeRegion: 'ap-southeast-1' }, { headers: { [REGION_HINT_HEADER]: 'ap-southeast-1' } }),
    );
    const req = backend.expectOne('/api/orgs');
    expect(req.request.headers.get(REGION_HINT_HEADER)).toBe('ap-southeast-1');
    req.flush({ id: 'org_apse1_aaaaaaaaaaaaaaaaaaaa' }, { status: 201, statusText: 'Created' });
    await result;
  });

  it('retries a transient failure of a GET with capped, growing backoff, then succeeds', async () => {
    const { http, backend, timers } = setup();
    const result = firstValueFrom(http.get('/api/orgs'));
    backend.expectOne('/api/orgs').flush(null, unavailable('eu-west-1'));
    timers.runTimeouts();
    backend.expectOne('/api/orgs').flush(null, { status: 502, statusText: 'Bad Gateway' });
    timers.runTimeouts();
    backend.expectOne('/api/orgs').flush({ items: [] });
    expect(await result).toEqual({ items: [] });
    // Equal jitter at random 0.5: 75 % of 100 ms, then of 200 ms (10 s is the latency report's flush).
    expect(timers.delays.filter((ms) => ms !== 10_000)).toEqual([75, 150]);
    expect(backoffMs({ maxRetries: 9, baseDelayMs: 100, maxDelayMs: 1_000 }, 8, 1)).toBe(1_000);
  });

  it('never retries a 4xx (except 429) and passes the API error on', async () => {
    const { http, backend } = setup();
    const result = firstValueFrom(http.post(`/api/orgs/${EU_ORG}/dossiers`, { title: '' }));
    backend
      .expectOne(`/api/orgs/${EU_ORG}/dossiers`)
      .flush({ error: { code: 'ATLAS_ERR_VALIDATION', message: 'body/title: too short' } }, { status: 400, statusText: 'Bad Request' });
    const err = (await result.catch((e: unknown) => e)) as HttpErrorResponse;
    expect(err.status).toBe(400);
    expect(err.error.error.message).toBe('body/title: too short');
  });

  it('does not resend a POST a region may have applied, but does resend one the edge never forwarded', async () => {
    const { http, backend, timers } = setup();
    const applied = firstValueFrom(http.post('/api/orgs', { name: 'x' }));
    backend.expectOne('/api/orgs').flush(null, unavailable('eu-west-1'));
    expect(((await applied.catch((e: unknown) => e)) as HttpErrorResponse).status).toBe(503);

    const refused = firstValueFrom(http.post('/api/orgs', { name: 'y' }));
    backend.expectOne('/api/orgs').flush(null, unavailable('edge'));
    timers.runTimeouts();
    backend.expectOne('/api/orgs').flush({ id: 'org_euw1_bbbbbbbbbbbbbbbbbbbb' }, { status: 201, statusText: 'Created' });
    expect(await refused).toEqual({ id: 'org_euw1_bbbbbbbbbbbbbbbbbbbb' });
  });

  it('replays a 421 once to the region it names', async () => {
    const { http, backend } = setup();
    const result = firstValueFrom(http.get('/api/users/usr_1/preferences'));
    backend
      .expectOne('/api/users/usr_1/preferences')
      .flush(null, { status: 421, statusText: 'Misdirected', headers: { 'atlas-region': 'us-east-1' } });
    const replay = backend.expectOne('/api/users/usr_1/preferences');
    expect(replay.request.headers.get(REGION_HINT_HEADER)).toBe('us-east-1');
    // A second 421 goes back to the caller: at most one replay.
    replay.flush(null, { status: 421, statusText: 'Misdirected', headers: { 'atlas-region': 'ap-southeast-1' } });
    expect(((await result.catch((e: unknown) => e)) as HttpErrorResponse).status).toBe(421);
  });

  it('refuses to replay regional data to a region of another jurisdiction (R2)', async () => {
    const { http, backend } = setup();
    const result = firstValueFrom(http.get(`/api/orgs/${EU_ORG}/dossiers`));
    backend
      .expectOne(`/api/orgs/${EU_ORG}/dossiers`)
      .flush(null, { status: 421, statusText: 'Misdirected', headers: { 'atlas-region': 'us-east-1' } });
    const err = await result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResidencyRefusal);
    expect((err as ResidencyRefusal).error.error.code).toBe('ATLAS_ERR_WRONG_REGION');
    backend.expectNone(`/api/orgs/${EU_ORG}/dossiers`);
  });

  it('fails global data over to the next healthy region after the retries, and tells the routing service', async () => {
    const { http, backend, timers, routing } = setup();
    const result = firstValueFrom(http.get('/api/orgs'));
    for (let i = 0; i < 3; i++) {
      const req = backend.expectOne('/api/orgs');
      expect(req.request.headers.get(REGION_HINT_HEADER)).toBe('eu-west-1');
      req.error(new ProgressEvent('error'), { status: 0, statusText: 'Unknown Error' });
      timers.runTimeouts();
    }
    const failover = backend.expectOne('/api/orgs');
    expect(failover.request.headers.get(REGION_HINT_HEADER)).toBe('us-east-1');
    failover.flush({ items: [] }, { headers: { 'atlas-region': 'us-east-1' } });
    await result;
    expect(routing.health()['eu-west-1']!.consecutiveFailures).toBe(1);
  });

  it('never fails regional data over to another jurisdiction: the error reaches the caller', async () => {
    const { http, backend, timers } = setup();
    const url = `/api/orgs/${EU_ORG}/dossiers`;
    const result = firstValueFrom(http.get(url));
    for (let i = 0; i < 3; i++) {
      const req = backend.expectOne(url);
      expect(req.request.headers.get(REGION_HINT_HEADER)).toBe('eu-west-1');
      req.flush(null, unavailable('eu-west-1'));
      timers.runTimeouts();
    }
    backend.expectNone(url);
    expect(((await result.catch((e: unknown) => e)) as HttpErrorResponse).status).toBe(503);
  });

  it('fails regional data over to a disaster-recovery partner of the same jurisdiction only', async () => {
    const regions: RegionInfo[] = [
      { ...REGIONS[0]!, drPartner: 'eu-central-1' },
      { ...REGIONS[0]!, region: 'eu-central-1', code: 'euc1', displayName: 'Europe (Frankfurt)', drPartner: 'eu-west-1' },
      REGIONS[1]!,
    ];
    const { http, backend, timers } = setup(regions);
    const url = `/api/orgs/${EU_ORG}/activities`;
    const result = firstValueFrom(http.get(url));
    for (let i = 0; i < 3; i++) {
      backend.expectOne(url).flush(null, unavailable('eu-west-1'));
      timers.runTimeouts();
    }
    const partner = backend.expectOne(url);
    expect(partner.request.headers.get(REGION_HINT_HEADER)).toBe('eu-central-1');
    partner.flush({ items: [], nextCursor: null });
    await result;
  });

  it("stops at once when the edge says no region may serve the organization's data", async () => {
    const { http, backend, timers } = setup();
    const url = `/api/orgs/${EU_ORG}/dossiers`;
    const result = firstValueFrom(http.get(url));
    backend
      .expectOne(url)
      .flush(
        { error: { code: 'ATLAS_ERR_REGION_UNAVAILABLE', message: 'eu-west-1 is unavailable' } },
        unavailable('edge', 'unavailable:regional'),
      );
    expect(timers.delays).toEqual([]);
    const err = (await result.catch((e: unknown) => e)) as HttpErrorResponse;
    expect(err.error.error.code).toBe('ATLAS_ERR_REGION_UNAVAILABLE');
  });

  it('learns from the edge that the chosen region is down when the edge failed a request over', async () => {
    const { http, backend, routing } = setup();
    const result = firstValueFrom(http.get('/api/orgs'));
    backend
      .expectOne('/api/orgs')
      .flush(
        { items: [] },
        { headers: { 'atlas-region': 'us-east-1', 'atlas-route-preferred': 'eu-west-1', 'atlas-route-reason': 'failover:global' } },
      );
    await result;
    expect(routing.health()['eu-west-1']!.consecutiveFailures).toBe(1);
  });

  it('leaves non-API requests alone', async () => {
    const { http, backend } = setup();
    const result = firstValueFrom(http.get('/assets/x.json'));
    const req = backend.expectOne('/assets/x.json');
    expect(req.request.headers.has(REGION_HINT_HEADER)).toBe(false);
    req.flush({});
    await result;
  });
});
