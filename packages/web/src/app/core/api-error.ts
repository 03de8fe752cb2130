import { HttpErrorResponse } from '@angular/common/http';

/** The API's message for a failed request ({ error: { code, message } }), or a plain one. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof HttpErrorResponse) {
    const body = err.error as { error?: { code?: string; message?: string } } | string | null;
    if (body && typeof body === 'object' && body.error?.message) return body.error.message;
    if (err.status === 0) return 'Atlas cannot be reached (network error); check your connection and retry.';
    return `the request failed (HTTP ${err.status})`;
  }
  return err instanceof Error ? err.message : 'unexpected error';
}
