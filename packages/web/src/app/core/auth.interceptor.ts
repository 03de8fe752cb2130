import { HttpErrorResponse, type HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { Router } from '@angular/router';
import { catchError, throwError } from 'rxjs';
import { AuthService } from './auth.service';

/** Adds the bearer token to /api requests; a 401 ends the session and returns to sign-in. */
export const authInterceptor: HttpInterceptorFn = (req, next) => {
  const auth = inject(AuthService);
  const router = inject(Router);
  const token = auth.session()?.token;
  const path = req.url.replace(/^https?:\/\/[^/]+/, '');
  const out = token && path.startsWith('/api/') ? req.clone({ setHeaders: { authorization: `Bearer ${token}` } }) : req;
  return next(out).pipe(
    catchError((err: unknown) => {
      if (err instanceof HttpErrorResponse && err.status === 401 && token) {
        auth.signOut();
        void router.navigate(['/sign-in'], { queryParams: { expired: 1 } });
      }
      return throwError(() => err);
    }),
  );
};
