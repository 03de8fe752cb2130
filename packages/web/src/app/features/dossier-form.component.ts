import { Component, inject, input, signal, type OnInit } from '@angular/core';
import { FormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { Router, RouterLink } from '@angular/router';
import { ApiService, type Dossier } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService } from '../core/auth.service';
import { DOSSIER_STATUSES } from './dossier-list.component';

/** Create (/dossiers/new) or edit (/dossiers/:id/edit) a dossier; the API's message on refusal. */
@Component({
  selector: 'atlas-dossier-form',
  imports: [ReactiveFormsModule, RouterLink],
  template: `
    <h1>{{ id() ? 'Edit dossier' : 'New dossier' }}</h1>
    @if (loading()) {
      <p class="muted" role="status">Loading…</p>
    } @else {
      <form [formGroup]="form" (ngSubmit)="save()" class="card" novalidate>
        <label
          >Title *
          <input formControlName="title" required [attr.aria-invalid]="bad('title')" />
        </label>
        @if (bad('title')) {
          <span class="field-error">A title is required (at most 300 characters).</span>
        }
        <label>Reference <input formControlName="reference" maxlength="100" /></label>
        <label
          >Status
          <select formControlName="status">
            @for (s of statuses; track s) {
              <option [value]="s">{{ s }}</option>
            }
          </select>
        </label>
        <label>Client name <input formControlName="clientName" maxlength="200" /></label>
        <label>Client e-mail <input formControlName="clientEmail" type="email" [attr.aria-invalid]="bad('clientEmail')" /></label>
        @if (bad('clientEmail')) {
          <span class="field-error">Enter a valid e-mail address or leave it empty.</span>
        }
        <label>Client phone <input formControlName="clientPhone" maxlength="40" /></label>
        <label>Description <textarea formControlName="description" rows="4" maxlength="10000"></textarea></label>
        @if (error(); as e) {
          <p class="error" role="alert" data-testid="form-error">{{ e }}</p>
        }
        <div class="row">
          <button type="submit" [disabled]="saving()">{{ saving() ? 'Saving…' : 'Save' }}</button>
          <a [routerLink]="id() ? ['/dossiers', id()] : ['/dossiers']">Cancel</a>
        </div>
      </form>
    }
  `,
})
export class DossierFormComponent implements OnInit {
  /** From the route (withComponentInputBinding); undefined when creating. */
  readonly id = input<string>();
  private readonly api = inject(ApiService);
  private readonly router = inject(Router);
  private readonly orgId = inject(AuthService).session()?.orgId ?? '';
  protected readonly statuses = DOSSIER_STATUSES;
  protected readonly loading = signal(false);
  protected readonly saving = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly form = inject(FormBuilder).nonNullable.group({
    title: ['', [Validators.required, Validators.maxLength(300), Validators.pattern(/\S/)]],
    reference: [''],
    status: ['open'],
    clientName: [''],
    clientEmail: ['', Validators.email],
    clientPhone: [''],
    description: [''],
  });

  ngOnInit(): void {
    const id = this.id();
    if (!id) return;
    this.loading.set(true);
    this.api.get<Dossier>(this.orgId, 'dossiers', id).subscribe({
      next: (d) => {
        this.form.patchValue({
          title: d.title,
          reference: d.reference ?? '',
          status: d.status,
          clientName: d.clientName ?? '',
          clientEmail: d.clientEmail ?? '',
          clientPhone: d.clientPhone ?? '',
          description: d.description ?? '',
        });
        this.loading.set(false);
      },
      error: (err: unknown) => {
        this.error.set(apiErrorMessage(err));
        this.loading.set(false);
      },
    });
  }

  protected bad(name: keyof typeof this.form.controls): boolean {
    const c = this.form.controls[name];
    return c.invalid && c.touched;
  }

  save(): void {
    this.form.markAllAsTouched();
    if (this.form.invalid) return;
    const v = this.form.getRawValue();
    const orNull = (s: string) => (s.trim() === '' ? null : s.trim());
    const body = {
      title: v.title.trim(),
      reference: orNull(v.reference),
      status: v.status,
      clientName: orNull(v.clientName),
      clientEmail: orNull(v.clientEmail),
      clientPhone: orNull(v.clientPhone),
      description: orNull(v.description),
    };
    const id = this.id();
    this.saving.set(true);
    this.error.set(null);
    const call = id ? this.api.update<Dossier>(this.orgId, 'dossiers', id, body) : this.api.create<Dossier>(this.orgId, 'dossiers', body);
    call.subscribe({
      next: (d) => void this.router.navigate(['/dossiers', d.id]),
      error: (err: unknown) => {
        this.error.set(apiErrorMessage(err));
        this.saving.set(false);
      },
    });
  }
}
