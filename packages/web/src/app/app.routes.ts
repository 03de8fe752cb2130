import { inject } from '@angular/core';
import { Router, type CanActivateFn, type Routes } from '@angular/router';
import { AuthService, type Role } from './core/auth.service';

const signedIn: CanActivateFn = () => inject(AuthService).signedIn() || inject(Router).createUrlTree(['/sign-in']);
const withRole =
  (...roles: Role[]): CanActivateFn =>
  () =>
    inject(AuthService).hasRole(...roles) || inject(Router).createUrlTree(['/dossiers']);

/** Every screen but sign-in is loaded on first visit: the initial bundle holds the shell only. */
export const routes: Routes = [
  { path: 'sign-in', title: 'Sign in · Atlas', loadComponent: () => import('./features/sign-in.component').then((m) => m.SignInComponent) },
  {
    path: '',
    canActivate: [signedIn],
    children: [
      { path: '', pathMatch: 'full', redirectTo: 'dossiers' },
      {
        path: 'organization',
        title: 'Organization · Atlas',
        loadComponent: () => import('./features/org.component').then((m) => m.OrgComponent),
      },
      {
        path: 'dossiers',
        title: 'Dossiers · Atlas',
        loadComponent: () => import('./features/dossier-list.component').then((m) => m.DossierListComponent),
      },
      {
        path: 'dossiers/new',
        title: 'New dossier · Atlas',
        loadComponent: () => import('./features/dossier-form.component').then((m) => m.DossierFormComponent),
      },
      {
        path: 'dossiers/:id',
        title: 'Dossier · Atlas',
        loadComponent: () => import('./features/dossier-detail.component').then((m) => m.DossierDetailComponent),
      },
      {
        path: 'dossiers/:id/edit',
        title: 'Edit dossier · Atlas',
        loadComponent: () => import('./features/dossier-form.component').then((m) => m.DossierFormComponent),
      },
      {
        path: 'annonces',
        title: 'Listings · Atlas',
        loadComponent: () => import('./features/annonces.component').then((m) => m.AnnoncesComponent),
      },
      {
        path: 'activities',
        title: 'Activities · Atlas',
        loadComponent: () => import('./features/activities.component').then((m) => m.ActivitiesComponent),
      },
      {
        path: 'documents',
        title: 'Documents · Atlas',
        loadComponent: () => import('./features/documents.component').then((m) => m.DocumentsComponent),
      },
      {
        path: 'audit',
        title: 'Audit trail · Atlas',
        canActivate: [withRole('admin', 'dpo')],
        loadComponent: () => import('./features/audit.component').then((m) => m.AuditComponent),
      },
      {
        path: 'privacy',
        title: 'Privacy requests · Atlas',
        canActivate: [withRole('dpo', 'admin')],
        loadComponent: () => import('./features/privacy.component').then((m) => m.PrivacyComponent),
      },
    ],
  },
  { path: '**', redirectTo: '' },
];
