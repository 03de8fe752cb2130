import { DatePipe } from '@angular/common';
import { Component, inject, signal, type OnInit } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { RouterLink } from '@angular/router';
import { ApiService, type Dossier } from '../core/api.service';
import { PagedList } from './paged-list';

export const DOSSIER_STATUSES = ['open', 'in_progress', 'won', 'lost', 'closed'] as const;

@Component({
  selector: 'atlas-dossier-list',
  imports: [RouterLink, FormsModule, DatePipe],
  template: `
    <div class="title-row">
      <h1>Dossiers</h1>
      <a class="button" routerLink="/dossiers/new">New dossier</a>
    </div>
    <form class="filters" role="search" (ngSubmit)="search()">
      <label>Search <input name="q" type="search" [(ngModel)]="q" placeholder="title or reference" maxlength="100" /></label>
      <label
        >Status
        <select name="status" [(ngModel)]="status" (change)="search()">
          <option value="">any</option>
          @for (s of statuses; track s) {
            <option [value]="s">{{ s }}</option>
          }
        </select>
      </label>
      <button type="submit">Search</button>
    </form>
    @if (list.error(); as e) {
      <p class="error" role="alert">{{ e }} <button type="button" class="link" (click)="list.reload()">Retry</button></p>
    }
    @if (list.loading()) {
      <p class="muted" role="status">Loading dossiers…</p>
    } @else if (!list.error()) {
      <table class="list" data-testid="dossier-table">
        <thead>
          <tr>
            <th scope="col">Title</th>
            <th scope="col">Reference</th>
            <th scope="col">Status</th>
            <th scope="col">Client</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          @for (d of list.items(); track d.id) {
            <tr>
              <td data-label="Title">
                <a [routerLink]="['/dossiers', d.id]">{{ d.title }}</a>
              </td>
              <td data-label="Reference">{{ d.reference ?? '—' }}</td>
              <td data-label="Status">
                <span class="badge">{{ d.status }}</span>
              </td>
              <td data-label="Client">{{ d.clientName ?? '—' }}</td>
              <td data-label="Updated">{{ d.updatedAt | date: 'short' }}</td>
            </tr>
          } @empty {
            <tr>
              <td colspan="5" class="muted">No dossier matches.</td>
            </tr>
          }
        </tbody>
      </table>
    }
    <nav class="pager" aria-label="Pages">
      <button type="button" (click)="list.previousPage()" [disabled]="list.page() === 1 || list.loading()">Previous</button>
      <span>Page {{ list.page() }}</span>
      <button type="button" (click)="list.nextPage()" [disabled]="!list.hasNext() || list.loading()">Next</button>
    </nav>
  `,
})
export class DossierListComponent implements OnInit {
  private readonly api = inject(ApiService);
  protected readonly statuses = DOSSIER_STATUSES;
  protected q = '';
  protected status = '';
  protected readonly pageSize = signal(20);
  protected readonly list = new PagedList<Dossier>((orgId, cursor) =>
    this.api.list<Dossier>(orgId, 'dossiers', { limit: this.pageSize(), cursor, q: this.q.trim(), status: this.status }),
  );

  ngOnInit(): void {
    this.list.reload();
  }

  search(): void {
    this.list.reload();
  }
}
