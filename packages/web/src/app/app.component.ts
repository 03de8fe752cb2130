import { Component, computed, inject, type OnInit } from '@angular/core';
import { Router, RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';
import { AuthService } from './core/auth.service';
import { RegionRoutingService } from './core/region-routing.service';
import { RegionStatusComponent } from './region-status/region-status.component';

@Component({
  selector: 'atlas-root',
  imports: [RouterOutlet, RouterLink, RouterLinkActive, RegionStatusComponent],
  template: `
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <a class="brand" routerLink="/">Atlas</a>
      @if (auth.session(); as s) {
        <nav aria-label="Main">
          <a routerLink="/dossiers" routerLinkActive="active">Dossiers</a>
          <a routerLink="/annonces" routerLinkActive="active">Listings</a>
          <a routerLink="/activities" routerLinkActive="active">Activities</a>
          <a routerLink="/documents" routerLinkActive="active">Documents</a>
          <a routerLink="/organization" routerLinkActive="active">Organization</a>
          @if (canAudit()) {
            <a routerLink="/audit" routerLinkActive="active">Audit</a>
          }
          @if (canPrivacy()) {
            <a routerLink="/privacy" routerLinkActive="active">Privacy</a>
          }
        </nav>
        <span class="who">{{ s.email }} · {{ s.role }}</span>
        <button type="button" class="link" (click)="signOut()">Sign out</button>
      }
    </header>
    <atlas-region-status />
    <main id="main" tabindex="-1"><router-outlet /></main>
  `,
})
export class AppComponent implements OnInit {
  protected readonly auth = inject(AuthService);
  private readonly routing = inject(RegionRoutingService);
  private readonly router = inject(Router);
  protected readonly canAudit = computed(() => this.auth.hasRole('admin', 'dpo'));
  protected readonly canPrivacy = computed(() => this.auth.hasRole('dpo', 'admin'));

  ngOnInit(): void {
    void this.routing.start();
  }

  signOut(): void {
    this.auth.signOut();
    void this.router.navigate(['/sign-in']);
  }
}
