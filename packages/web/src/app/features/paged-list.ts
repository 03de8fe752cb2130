import { inject, signal } from '@angular/core';
import type { Observable } from 'rxjs';
import type { Page } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService } from '../core/auth.service';

/**
 * Loading, error and cursor paging state of one list screen, as signals. `fetch` gets the
 * organization and the cursor of the page to load (null: the first).
 */
export class PagedList<T> {
  readonly items = signal<readonly T[]>([]);
  readonly loading = signal(false);
  readonly error = signal<string | null>(null);
  readonly page = signal(1);
  readonly hasNext = signal(false);
  private cursors: (string | null)[] = [null];
  private next: string | null = null;
  private readonly orgId = inject(AuthService).session()?.orgId ?? '';

  constructor(private readonly fetch: (orgId: string, cursor: string | null) => Observable<Page<T>>) {}

  reload(): void {
    this.cursors = [null];
    this.page.set(1);
    this.load(null);
  }

  nextPage(): void {
    if (!this.next) return;
    this.cursors.push(this.next);
    this.page.update((p) => p + 1);
    this.load(this.next);
  }

  previousPage(): void {
    if (this.cursors.length < 2) return;
    this.cursors.pop();
    this.page.update((p) => p - 1);
    this.load(this.cursors[this.cursors.length - 1] ?? null);
  }

  private load(cursor: string | null): void {
    this.loading.set(true);
    this.error.set(null);
    this.fetch(this.orgId, cursor).subscribe({
      next: (p) => {
        this.items.set(p.items);
        this.next = p.nextCursor;
        this.hasNext.set(p.nextCursor !== null);
        this.loading.set(false);
      },
      error: (err: unknown) => {
        this.error.set(apiErrorMessage(err));
        this.loading.set(false);
      },
    });
  }
}
