import { DatePipe } from '@angular/common';
import { Component, inject, signal, type OnInit } from '@angular/core';
import { ApiService, type Organization } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService } from '../core/auth.service';

interface Member {
  readonly id: string;
  readonly email?: string;
  readonly fullName?: string;
  readonly role: string;
}

/** The caller's organization (global data: served by any region) and its members (regional). */
@Component({
  selector: 'atlas-org',
  imports: [DatePipe],
  template: `
    <h1>Organization</h1>
    @if (error(); as e) {
      <p class="error" role="alert">{{ e }}</p>
    }
    @if (org(); as o) {
      <dl class="facts" data-testid="org-facts">
        <dt>Name</dt>
        <dd>{{ o.name }}</dd>
        <dt>Id</dt>
        <dd>
          <code>{{ o.id }}</code>
        </dd>
        <dt>Home region</dt>
        <dd>
          <code>{{ o.homeRegion }}</code>
        </dd>
        <dt>Created in</dt>
        <dd>
          <code>{{ o.originRegion }}</code> · {{ o.createdAt | date: 'medium' }}
        </dd>
        <dt>Served by</dt>
        <dd>
          <code data-testid="served-by">{{ servedBy() }}</code>
        </dd>
      </dl>
    } @else if (!error()) {
      <p class="muted" role="status">Loading…</p>
    }
    <h2>Members</h2>
    @if (membersError(); as e) {
      <p class="error" role="alert">{{ e }}</p>
    } @else {
      <ul class="plain">
        @for (m of members(); track m.id) {
          <li>{{ m.fullName ?? m.id }} · {{ m.email ?? '' }} · {{ m.role }}</li>
        } @empty {
          <li class="muted">none</li>
        }
      </ul>
    }
    <button type="button" (click)="load()">Refresh</button>
  `,
})
export class OrgComponent implements OnInit {
  private readonly api = inject(ApiService);
  private readonly orgId = inject(AuthService).session()?.orgId ?? '';
  protected readonly org = signal<Organization | null>(null);
  protected readonly servedBy = signal('');
  protected readonly members = signal<Member[]>([]);
  protected readonly error = signal<string | null>(null);
  protected readonly membersError = signal<string | null>(null);

  ngOnInit(): void {
    this.load();
  }

  load(): void {
    this.error.set(null);
    this.membersError.set(null);
    this.api.myOrgs().subscribe({
      next: (page) => {
        const o = page.items[0] ?? null;
        this.org.set(o);
        if (!o) this.error.set('your organization is not visible yet (replication may still be on its way)');
      },
      error: (err: unknown) => this.error.set(apiErrorMessage(err)),
    });
    this.api.regionServing().subscribe({ next: (r) => this.servedBy.set(r), error: () => this.servedBy.set('unknown') });
    this.api.list<Member>(this.orgId, 'users', { limit: 50 }).subscribe({
      next: (p) => this.members.set(p.items),
      error: (err: unknown) => this.membersError.set(apiErrorMessage(err)),
    });
  }
}
