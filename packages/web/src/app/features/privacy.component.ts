import { DatePipe } from '@angular/common';
import { Component, inject, signal, type OnInit } from '@angular/core';
import { FormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { ApiService, type PrivacyRequest } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService } from '../core/auth.service';
import { PagedList } from './paged-list';

const TYPES = ['access', 'portability', 'rectification', 'erasure', 'restriction'] as const;

/** Data-subject requests (GDPR art. 15–20) for the DPO: file one, follow each to its due date. */
@Component({
  selector: 'atlas-privacy',
  imports: [ReactiveFormsModule, DatePipe],
  template: `
    <h1>Privacy requests</h1>
    <form [formGroup]="form" (ngSubmit)="file()" class="card inline" novalidate aria-label="New request">
      <label
        >Type
        <select formControlName="type">
          @for (t of types; track t) {
            <option [value]="t">{{ t }}</option>
          }
        </select>
      </label>
      <label>Subject's e-mail * <input formControlName="email" type="email" /></label>
      <button type="submit" [disabled]="saving()">{{ saving() ? 'Filing…' : 'File request' }}</button>
      @if (form.controls.email.invalid && form.controls.email.touched) {
        <span class="field-error">Enter the subject's e-mail address.</span>
      }
    </form>
    @if (error(); as e) {
      <p class="error" role="alert">{{ e }}</p>
    }
    @if (list.error(); as e) {
      <p class="error" role="alert">{{ e }} <button type="button" class="link" (click)="list.reload()">Retry</button></p>
    }
    @if (list.loading()) {
      <p class="muted" role="status">Loading requests…</p>
    } @else if (!list.error()) {
      <table class="list">
        <thead>
          <tr>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Received</th>
            <th scope="col">Due</th>
            <th scope="col">Completed</th>
          </tr>
        </thead>
        <tbody>
          @for (r of list.items(); track r.id) {
            <tr>
              <td data-label="Type">{{ r.type }}</td>
              <td data-label="Status">
                <span class="badge">{{ r.status }}</span>
              </td>
              <td data-label="Received">{{ r.receivedAt | date: 'short' }}</td>
              <td data-label="Due">{{ r.dueAt | date: 'mediumDate' }}</td>
              <td data-label="Completed">{{ r.completedAt ? (r.completedAt | date: 'short') : '—' }}</td>
            </tr>
          } @empty {
            <tr>
              <td colspan="5" class="muted">No request.</td>
            </tr>
          }
        </tbody>
      </table>
    }
  `,
})
export class PrivacyComponent implements OnInit {
  private readonly api = inject(ApiService);
  private readonly orgId = inject(AuthService).session()?.orgId ?? '';
  protected readonly types = TYPES;
  protected readonly list = new PagedList<PrivacyRequest>((orgId, cursor) => this.api.privacyRequests(orgId, { limit: 25, cursor }));
  protected readonly saving = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly form = inject(FormBuilder).nonNullable.group({
    type: ['access' as string],
    email: ['', [Validators.required, Validators.email]],
  });

  ngOnInit(): void {
    this.list.reload();
  }

  file(): void {
    this.form.markAllAsTouched();
    if (this.form.invalid) return;
    const v = this.form.getRawValue();
    this.saving.set(true);
    this.error.set(null);
    this.api.filePrivacyRequest(this.orgId, { type: v.type, subject: { email: v.email.trim() } }).subscribe({
      next: () => {
        this.saving.set(false);
        this.list.reload();
      },
      error: (err: unknown) => {
        this.saving.set(false);
        this.error.set(apiErrorMessage(err));
      },
    });
  }
}
