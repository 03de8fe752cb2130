import { DecimalPipe } from '@angular/common';
import { Component, inject, signal, type OnInit } from '@angular/core';
import { FormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { ApiService, type Annonce } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService } from '../core/auth.service';
import { PagedList } from './paged-list';

@Component({
  selector: 'atlas-annonces',
  imports: [ReactiveFormsModule, DecimalPipe],
  template: `
    <h1>Listings</h1>
    <form [formGroup]="form" (ngSubmit)="add()" class="card inline" novalidate aria-label="New listing">
      <label>Title * <input formControlName="title" /></label>
      <label>City <input formControlName="city" maxlength="120" /></label>
      <label>Price <input formControlName="price" type="number" min="0" /></label>
      <label>Currency <input formControlName="currency" maxlength="3" size="4" /></label>
      <label
        >Type
        <select formControlName="transactionType">
          <option value="sale">sale</option>
          <option value="rent">rent</option>
        </select>
      </label>
      <button type="submit" [disabled]="saving()">{{ saving() ? 'Adding…' : 'Add listing' }}</button>
      @if (form.controls.title.invalid && form.controls.title.touched) {
        <span class="field-error">A title is required.</span>
      }
      @if (form.controls.currency.invalid && form.controls.currency.touched) {
        <span class="field-error">Currency is three capital letters (EUR, USD…).</span>
      }
    </form>
    @if (error(); as e) {
      <p class="error" role="alert" data-testid="form-error">{{ e }}</p>
    }
    @if (list.error(); as e) {
      <p class="error" role="alert">{{ e }} <button type="button" class="link" (click)="list.reload()">Retry</button></p>
    }
    @if (list.loading()) {
      <p class="muted" role="status">Loading listings…</p>
    } @else if (!list.error()) {
      <table class="list">
        <thead>
          <tr>
            <th scope="col">Title</th>
            <th scope="col">City</th>
            <th scope="col">Price</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          @for (a of list.items(); track a.id) {
            <tr>
              <td data-label="Title">{{ a.title }}</td>
              <td data-label="City">{{ a.city ?? '—' }}</td>
              <td data-label="Price">{{ a.price === null ? '—' : (a.price | number: '1.0-0') + ' ' + a.currency }}</td>
              <td data-label="Status">
                <span class="badge">{{ a.status }}</span>
              </td>
            </tr>
          } @empty {
            <tr>
              <td colspan="4" class="muted">No listing yet.</td>
            </tr>
          }
        </tbody>
      </table>
    }
    <nav class="pager" aria-label="Pages">
      <button type="button" (click)="list.previousPage()" [disabled]="list.page() === 1">Previous</button>
      <span>Page {{ list.page() }}</span>
      <button type="button" (click)="list.nextPage()" [disabled]="!list.hasNext()">Next</button>
    </nav>
  `,
})
export class AnnoncesComponent implements OnInit {
  private readonly api = inject(ApiService);
  private readonly orgId = inject(AuthService).session()?.orgId ?? '';
  protected readonly list = new PagedList<Annonce>((orgId, cursor) => this.api.list<Annonce>(orgId, 'annonces', { limit: 20, cursor }));
  protected readonly saving = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly form = inject(FormBuilder).nonNullable.group({
    title: ['', [Validators.required, Validators.pattern(/\S/), Validators.maxLength(300)]],
    city: [''],
    price: [null as number | null, Validators.min(0)],
    currency: ['EUR', Validators.pattern(/^[A-Z]{3}$/)],
    transactionType: ['sale'],
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
    this.api
      .create<Annonce>(this.orgId, 'annonces', {
        title: v.title.trim(),
        city: v.city.trim() || null,
        price: v.price,
        currency: v.currency,
        transactionType: v.transactionType,
      })
      .subscribe({
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
