import { DatePipe } from '@angular/common';
import { Component, inject, signal, type OnInit } from '@angular/core';
import { FormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { ApiService, type Activity } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService } from '../core/auth.service';
import { PagedList } from './paged-list';

const KINDS = ['call', 'email', 'meeting', 'note', 'visit', 'task'] as const;

@Component({
  selector: 'atlas-activities',
  imports: [ReactiveFormsModule, DatePipe],
  template: `
    <h1>Activities</h1>
    <form [formGroup]="form" (ngSubmit)="add()" class="card inline" novalidate aria-label="New activity">
      <label
        >Kind
        <select formControlName="kind">
          @for (k of kinds; track k) {
            <option [value]="k">{{ k }}</option>
          }
        </select>
      </label>
      <label>Subject * <input formControlName="subject" /></label>
      <button type="submit" [disabled]="saving()">{{ saving() ? 'Adding…' : 'Add' }}</button>
      @if (form.controls.subject.invalid && form.controls.subject.touched) {
        <span class="field-error">A subject is required.</span>
      }
    </form>
    @if (error(); as e) {
      <p class="error" role="alert">{{ e }}</p>
    }
    @if (list.error(); as e) {
      <p class="error" role="alert">{{ e }} <button type="button" class="link" (click)="list.reload()">Retry</button></p>
    }
    @if (list.loading()) {
      <p class="muted" role="status">Loading the timeline…</p>
    } @else if (!list.error()) {
      <ol class="timeline">
        @for (a of list.items(); track a.id) {
          <li>
            <time [attr.datetime]="a.occurredAt">{{ a.occurredAt | date: 'medium' }}</time> <span class="badge">{{ a.kind }}</span>
            {{ a.subject }}
          </li>
        } @empty {
          <li class="muted">No activity yet.</li>
        }
      </ol>
    }
    <nav class="pager" aria-label="Pages">
      <button type="button" (click)="list.previousPage()" [disabled]="list.page() === 1">Newer</button>
      <span>Page {{ list.page() }}</span>
      <button type="button" (click)="list.nextPage()" [disabled]="!list.hasNext()">Older</button>
    </nav>
  `,
})
export class ActivitiesComponent implements OnInit {
  private readonly api = inject(ApiService);
  private readonly orgId = inject(AuthService).session()?.orgId ?? '';
  protected readonly kinds = KINDS;
  protected readonly list = new PagedList<Activity>((orgId, cursor) => this.api.list<Activity>(orgId, 'activities', { limit: 25, cursor }));
  protected readonly saving = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly form = inject(FormBuilder).nonNullable.group({
    kind: ['note' as string],
    subject: ['', [Validators.required, Validators.pattern(/\S/), Validators.maxLength(300)]],
  });

  ngOnInit(): void {
    this.list.reload();
  }

  add(): void {
    this.form.markAllAsTouched();
    if (this.form.invalid) return;
    const v = this.form.getRawValue();
    this.saving.set(true);
    this.error.set(null);
    this.api.create<Activity>(this.orgId, 'activities', { kind: v.kind, subject: v.subject.trim() }).subscribe({
      next: () => {
        this.saving.set(false);
        this.form.reset();
        this.list.reload();
      },
      error: (err: unknown) => {
        this.saving.set(false);
        this.error.set(apiErrorMessage(err));
      },
    });
  }
}
