import { DatePipe, DecimalPipe } from '@angular/common';
import { Component, computed, effect, inject, signal, untracked } from '@angular/core';
import { TimeoutError, timeout } from 'rxjs';
import { ApiService } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService } from '../core/auth.service';
import { RegionRoutingService } from '../core/region-routing.service';

/** The lag view polls every publisher; one that hangs must not leave the panel loading forever. */
const LAG_TIMEOUT_MS = 20_000;

interface Subscription {
  readonly peerRegion: string;
  readonly lagSeconds: number | null;
  readonly workerState: string;
}

/**
 * The region bar: region in use and why, every region's health and latency with a manual
 * switch, replication lag (operators), and where this organization's data is stored.
 */
@Component({
  selector: 'atlas-region-status',
  imports: [DatePipe, DecimalPipe],
  template: `
    <section class="region-bar" aria-label="Region status">
      @if (routing.loading()) {
        <span class="muted" role="status">Finding the nearest region…</span>
      } @else if (routing.error(); as e) {
        <span class="error" role="alert">{{ e }}</span>
      } @else {
        <span class="current" data-testid="current-region" role="status" aria-live="polite">
          <span class="dot" [class]="stateOf(routing.current())"></span>
          Region: <strong>{{ routing.currentRegion()?.displayName ?? 'none available' }}</strong>
          <code>{{ routing.current() ?? '—' }}</code>
          <span class="muted">({{ routing.manual() ? 'chosen by hand' : 'automatic' }})</span>
        </span>
        <button type="button" class="link" [attr.aria-expanded]="open()" aria-controls="region-panel" (click)="toggle()">
          {{ open() ? 'Hide regions' : 'Regions' }}
        </button>
      }
      @if (routing.offline()) {
        <span class="error" role="alert">This browser is offline; requests will fail until the network is back.</span>
      }
      @if (notice(); as n) {
        <p class="gdpr" data-testid="gdpr-notice">{{ n }}</p>
      }
    </section>
    @if (open()) {
      <section id="region-panel" class="region-panel" aria-label="Regions">
        <fieldset>
          <legend>Serve shared data from</legend>
          @for (r of routing.regions(); track r.region) {
            @let h = routing.health()[r.region];
            <label class="region-option" [attr.data-region]="r.region">
              <input
                type="radio"
                name="region"
                [value]="r.region"
                [checked]="routing.current() === r.region"
                [disabled]="h?.state === 'down'"
                (click)="choose(r.region)"
              />
              <span class="dot" [class]="h?.state ?? 'unknown'"></span>
              <span
                >{{ r.displayName }} <code>{{ r.region }}</code> · {{ r.jurisdiction }}</span
              >
              <span class="health" data-testid="region-health">{{ h?.state ?? 'unknown' }}</span>
              <span class="muted">{{
                h?.latencyMs === null || h?.latencyMs === undefined ? '—' : (h!.latencyMs | number: '1.0-0') + ' ms'
              }}</span>
              @if (h?.lastError; as err) {
                <span class="muted small">{{ err }}</span>
              }
            </label>
          }
        </fieldset>
        <div class="row">
          <button type="button" (click)="routing.automatic()" [disabled]="!routing.manual()">Choose automatically</button>
          <button type="button" (click)="routing.checkAll()">Check now</button>
          @if (routing.detected(); as d) {
            <span class="muted"
              >The edge placed you in {{ d.region }} ({{ d.reason }}). Health checked every
              {{ routing.config.healthIntervalMs / 1000 }} s.</span
            >
          }
        </div>
        <h3>Replication lag</h3>
        @if (lagError(); as e) {
          <p class="muted">{{ e }}</p>
        } @else if (lag(); as l) {
          <ul class="plain" data-testid="replication-lag">
            @for (s of l.subscriptions; track s.peerRegion) {
              <li>
                {{ s.peerRegion }} → {{ l.region }}: {{ s.lagSeconds === null ? 'unknown' : (s.lagSeconds | number: '1.0-2') + ' s' }} ({{
                  s.workerState
                }})
              </li>
            } @empty {
              <li class="muted">no subscription in {{ l.region }}</li>
            }
          </ul>
        } @else {
          <p class="muted" role="status">Loading…</p>
        }
        <h3>Recent routing events</h3>
        <ul class="plain events">
          @for (e of routing.events(); track $index) {
            <li>
              <time>{{ e.at | date: 'HH:mm:ss' }}</time> {{ e.message }}
            </li>
          } @empty {
            <li class="muted">none</li>
          }
        </ul>
      </section>
    }
  `,
})
export class RegionStatusComponent {
  protected readonly routing = inject(RegionRoutingService);
  private readonly auth = inject(AuthService);
  private readonly api = inject(ApiService);
  protected readonly open = signal(false);
  protected readonly lag = signal<{ region: string; subscriptions: readonly Subscription[] } | null>(null);
  protected readonly lagError = signal<string | null>(null);

  /** GDPR notice: where this organization's regional data is stored, and that it stays there. */
  protected readonly notice = computed(() => {
    const s = this.auth.session();
    if (!s) return null;
    const home = this.routing.regions().find((r) => r.region === s.homeRegion);
    const where = home ? `${home.displayName} (${home.region}, ${home.jurisdiction})` : s.homeRegion;
    return `Your organization's data (dossiers, listings, documents, activities, audit trail) is stored in ${where} only and never leaves the ${home?.jurisdiction ?? 'home'} jurisdiction. The region above serves shared data (organization names, preferences) only.`;
  });

  constructor() {
    // Lag is per serving region: reload it whenever the region in use changes while the panel is open.
    effect(() => {
      this.routing.current();
      if (untracked(() => this.open())) untracked(() => this.loadLag());
    });
  }

  protected stateOf(region: string | null): string {
    return region === null ? 'down' : (this.routing.health()[region]?.state ?? 'unknown');
  }

  protected toggle(): void {
    this.open.update((o) => !o);
    if (this.open()) this.loadLag();
  }

  protected choose(region: string): void {
    this.routing.switchRegion(region);
  }

  private loadLag(): void {
    if (!this.auth.hasRole('admin')) {
      this.lagError.set('Replication lag is shown to administrators.');
      return;
    }
    this.lag.set(null);
    this.lagError.set(null);
    this.api
      .replication()
      .pipe(timeout(LAG_TIMEOUT_MS))
      .subscribe({
        next: (body) => this.lag.set(body as { region: string; subscriptions: Subscription[] }),
        error: (err: unknown) =>
          this.lagError.set(
            err instanceof TimeoutError
              ? `Replication lag: no answer in ${LAG_TIMEOUT_MS / 1000} s`
              : `Replication lag unavailable: ${apiErrorMessage(err)}`,
          ),
      });
  }
}
