import { DatePipe } from '@angular/common';
import { Component, inject, type OnInit } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ApiService, type AuditEvent } from '../core/api.service';
import { PagedList } from './paged-list';

/** The organization's audit trail (admins and the DPO), newest first. */
@Component({
  selector: 'atlas-audit',
  imports: [DatePipe, FormsModule],
  template: `
    <h1>Audit trail</h1>
    <form class="filters" (ngSubmit)="list.reload()">
      <label>Entity <input name="entity" [(ngModel)]="entity" maxlength="40" placeholder="dossier, document…" /></label>
      <button type="submit">Filter</button>
    </form>
    @if (list.error(); as e) {
      <p class="error" role="alert">{{ e }} <button type="button" class="link" (click)="list.reload()">Retry</button></p>
    }
    @if (list.loading()) {
      <p class="muted" role="status">Loading the audit trail…</p>
    } @else if (!list.error()) {
      <table class="list">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col">Entity</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          @for (e of list.items(); track e.id) {
            <tr>
              <td data-label="When">{{ e.at | date: 'medium' }}</td>
              <td data-label="Who">
                <code>{{ e.actor }}</code>
              </td>
              <td data-label="Action">{{ e.action }}</td>
              <td data-label="Entity">
                {{ e.entity }} <code>{{ e.entityId ?? '' }}</code>
              </td>
              <td data-label="Outcome">{{ e.outcome }}</td>
            </tr>
          } @empty {
            <tr>
              <td colspan="5" class="muted">No event.</td>
            </tr>
          }
        </tbody>
      </table>
    }
    <nav class="pager" aria-label="Pages">
      <button type="button" (click)="list.previousPage()" [disabled]="list.page() === 1">Newer</button>
      <span>Page {{ list.page() }}</span>
      <button type="button" (click)="list.nextPage()" [disabled]="!list.hasNext()">Older</button>
    </nav>
  `,
})
export class AuditComponent implements OnInit {
  private readonly api = inject(ApiService);
  protected entity = '';
  protected readonly list = new PagedList<AuditEvent>((orgId, cursor) =>
    this.api.auditEvents(orgId, { limit: 25, cursor, entity: this.entity.trim() }),
  );

  ngOnInit(): void {
    this.list.reload();
  }
}
