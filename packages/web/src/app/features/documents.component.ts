import { DatePipe } from '@angular/common';
import { Component, inject, signal, type OnInit } from '@angular/core';
import { firstValueFrom } from 'rxjs';
import { ApiService, type DocumentMeta } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService } from '../core/auth.service';
import { PagedList } from './paged-list';

const MAX_BYTES = 10 * 1024 * 1024;

@Component({
  selector: 'atlas-documents',
  imports: [DatePipe],
  template: `
    <h1>Documents</h1>
    <div class="card inline">
      <label
        >Upload a file (at most 10 MiB)
        <input type="file" (change)="picked($event)" [disabled]="uploading()" data-testid="upload" />
      </label>
      @if (uploading()) {
        <span role="status">Uploading…</span>
      }
    </div>
    @if (error(); as e) {
      <p class="error" role="alert">{{ e }}</p>
    }
    @if (list.error(); as e) {
      <p class="error" role="alert">{{ e }} <button type="button" class="link" (click)="list.reload()">Retry</button></p>
    }
    @if (list.loading()) {
      <p class="muted" role="status">Loading documents…</p>
    } @else if (!list.error()) {
      <table class="list">
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Size</th>
            <th scope="col">Added</th>
            <th scope="col"><span class="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          @for (d of list.items(); track d.id) {
            <tr>
              <td data-label="File">{{ d.filename }}</td>
              <td data-label="Size">{{ d.sizeBytes === null ? 'no content' : d.sizeBytes + ' B' }}</td>
              <td data-label="Added">{{ d.createdAt | date: 'short' }}</td>
              <td>
                <button type="button" class="link" (click)="download(d)" [disabled]="!d.uploaded">
                  Download<span class="sr-only"> {{ d.filename }}</span>
                </button>
              </td>
            </tr>
          } @empty {
            <tr>
              <td colspan="4" class="muted">No document yet.</td>
            </tr>
          }
        </tbody>
      </table>
    }
  `,
})
export class DocumentsComponent implements OnInit {
  private readonly api = inject(ApiService);
  private readonly orgId = inject(AuthService).session()?.orgId ?? '';
  protected readonly list = new PagedList<DocumentMeta>((orgId, cursor) =>
    this.api.list<DocumentMeta>(orgId, 'documents', { limit: 20, cursor }),
  );
  protected readonly uploading = signal(false);
  protected readonly error = signal<string | null>(null);

  ngOnInit(): void {
    this.list.reload();
  }

  async picked(event: Event): Promise<void> {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    if (file.size > MAX_BYTES) {
      this.error.set(`${file.name} is larger than 10 MiB`);
      return;
    }
    this.uploading.set(true);
    this.error.set(null);
    try {
      // Metadata first (the row), then the body (stored encrypted in the home region).
      const contentType = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(file.type) ? file.type : 'application/octet-stream';
      const meta = await firstValueFrom(this.api.create<DocumentMeta>(this.orgId, 'documents', { filename: file.name, contentType }));
      await firstValueFrom(this.api.uploadContent(this.orgId, meta.id, file));
      input.value = '';
      this.list.reload();
    } catch (err) {
      this.error.set(apiErrorMessage(err));
    } finally {
      this.uploading.set(false);
    }
  }

  download(d: DocumentMeta): void {
    this.error.set(null);
    this.api.downloadContent(this.orgId, d.id).subscribe({
      next: (blob) => {
        const url = URL.createObjectURL(blob);
        const a = document.createElement('a');
        a.href = url;
        a.download = d.filename;
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      },
      error: (err: unknown) => this.error.set(apiErrorMessage(err)),
    });
  }
}
