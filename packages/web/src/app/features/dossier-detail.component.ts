import { DatePipe } from '@angular/common';
import { Component, inject, input, signal, type OnInit } from '@angular/core';
import { Router, RouterLink } from '@angular/router';
import { forkJoin } from 'rxjs';
import { ApiService, type Activity, type Annonce, type Dossier, type DocumentMeta } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService } from '../core/auth.service';

@Component({
  selector: 'atlas-dossier-detail',
  imports: [RouterLink, DatePipe],
  template: `
    @if (error(); as e) {
      <p class="error" role="alert">{{ e }}</p>
    }
    @if (dossier(); as d) {
      <div class="title-row">
        <h1>{{ d.title }}</h1>
        <div class="row">
          <a class="button" [routerLink]="['/dossiers', d.id, 'edit']">Edit</a>
          <button type="button" class="danger" (click)="remove(d)" [disabled]="busy()">Delete</button>
        </div>
      </div>
      <dl class="facts">
        <dt>Reference</dt>
        <dd>{{ d.reference ?? '—' }}</dd>
        <dt>Status</dt>
        <dd>
          <span class="badge">{{ d.status }}</span>
        </dd>
        <dt>Client</dt>
        <dd>{{ d.clientName ?? '—' }} {{ d.clientEmail ? '· ' + d.clientEmail : '' }} {{ d.clientPhone ? '· ' + d.clientPhone : '' }}</dd>
        <dt>Stored in</dt>
        <dd>
          <code>{{ d.region }}</code>
        </dd>
        <dt>Created</dt>
        <dd>{{ d.createdAt | date: 'medium' }}</dd>
      </dl>
      @if (d.description) {
        <p class="description">{{ d.description }}</p>
      }
      <h2>Listings</h2>
      <ul class="plain">
        @for (a of annonces(); track a.id) {
          <li>{{ a.title }} · {{ a.status }} · {{ a.price ?? '—' }} {{ a.currency }}</li>
        } @empty {
          <li class="muted">none</li>
        }
      </ul>
      <h2>Activities</h2>
      <ol class="timeline">
        @for (a of activities(); track a.id) {
          <li>
            <time>{{ a.occurredAt | date: 'short' }}</time> <span class="badge">{{ a.kind }}</span> {{ a.subject }}
          </li>
        } @empty {
          <li class="muted">none</li>
        }
      </ol>
      <h2>Documents</h2>
      <ul class="plain">
        @for (doc of documents(); track doc.id) {
          <li>{{ doc.filename }} {{ doc.uploaded ? '' : '(no content yet)' }}</li>
        } @empty {
          <li class="muted">none</li>
        }
      </ul>
    } @else if (!error()) {
      <p class="muted" role="status">Loading dossier…</p>
    }
  `,
})
export class DossierDetailComponent implements OnInit {
  readonly id = input.required<string>();
  private readonly api = inject(ApiService);
  private readonly router = inject(Router);
  private readonly orgId = inject(AuthService).session()?.orgId ?? '';
  protected readonly dossier = signal<Dossier | null>(null);
  protected readonly annonces = signal<Annonce[]>([]);
  protected readonly activities = signal<Activity[]>([]);
  protected readonly documents = signal<DocumentMeta[]>([]);
  protected readonly error = signal<string | null>(null);
  protected readonly busy = signal(false);

  ngOnInit(): void {
    const q = { dossierId: this.id(), limit: 50 };
    forkJoin({
      dossier: this.api.get<Dossier>(this.orgId, 'dossiers', this.id()),
      annonces: this.api.list<Annonce>(this.orgId, 'annonces', q),
      activities: this.api.list<Activity>(this.orgId, 'activities', q),
      documents: this.api.list<DocumentMeta>(this.orgId, 'documents', q),
    }).subscribe({
      next: (r) => {
        this.dossier.set(r.dossier);
        this.annonces.set(r.annonces.items);
        this.activities.set(r.activities.items);
        this.documents.set(r.documents.items);
      },
      error: (err: unknown) => this.error.set(apiErrorMessage(err)),
    });
  }

  remove(d: Dossier): void {
    if (!confirm(`Delete the dossier "${d.title}"?`)) return;
    this.busy.set(true);
    this.api.remove(this.orgId, 'dossiers', d.id).subscribe({
      next: () => void this.router.navigate(['/dossiers']),
      error: (err: unknown) => {
        this.error.set(apiErrorMessage(err));
        this.busy.set(false);
      },
    });
  }
}
