import { Component, inject, signal } from '@angular/core';
import { FormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { ActivatedRoute, Router } from '@angular/router';
import { firstValueFrom } from 'rxjs';
import { ApiService } from '../core/api.service';
import { apiErrorMessage } from '../core/api-error';
import { AuthService, type Role } from '../core/auth.service';
import { RegionRoutingService } from '../core/region-routing.service';

const ORG_ID = /^org_[a-z0-9]{2,6}_[0-9a-z]{20}$/;

/**
 * Local sign-in (the API's dev sign-in, on with `atlas up`): an organization id and an
 * e-mail. A new organization can be created here; its first member becomes its admin.
 */
@Component({
  selector: 'atlas-sign-in',
  imports: [ReactiveFormsModule],
  template: `
    <h1>Sign in to Atlas</h1>
    @if (expired) {
      <p class="notice" role="status">Your session ended; please sign in again.</p>
    }
    <div class="grid two">
      <form [formGroup]="signIn" (ngSubmit)="submitSignIn()" class="card" aria-labelledby="signin-title" novalidate>
        <h2 id="signin-title">Existing organization</h2>
        <label
          >Organization id
          <input
            formControlName="orgId"
            autocomplete="organization"
            placeholder="org_euw1_…"
            [attr.aria-invalid]="invalid(signIn.controls.orgId)"
          />
        </label>
        @if (invalid(signIn.controls.orgId)) {
          <span class="field-error">An organization id looks like org_euw1_ followed by 20 letters or digits.</span>
        }
        <label
          >E-mail
          <input formControlName="email" type="email" autocomplete="email" [attr.aria-invalid]="invalid(signIn.controls.email)" />
        </label>
        @if (invalid(signIn.controls.email)) {
          <span class="field-error">Enter a valid e-mail address.</span>
        }
        <button type="submit" [disabled]="busy()">{{ busy() === 'sign-in' ? 'Signing in…' : 'Sign in' }}</button>
      </form>
      <form [formGroup]="create" (ngSubmit)="submitCreate()" class="card" aria-labelledby="create-title" novalidate>
        <h2 id="create-title">New organization</h2>
        <label
          >Name
          <input formControlName="name" [attr.aria-invalid]="invalid(create.controls.name)" />
        </label>
        @if (invalid(create.controls.name)) {
          <span class="field-error">A name of 1 to 200 characters.</span>
        }
        <label
          >Home region (where its data will live)
          <select formControlName="homeRegion">
            @for (r of routing.regions(); track r.region) {
              <option [value]="r.region">{{ r.displayName }} ({{ r.jurisdiction }})</option>
            }
          </select>
        </label>
        <label
          >Your e-mail (first administrator)
          <input formControlName="email" type="email" autocomplete="email" [attr.aria-invalid]="invalid(create.controls.email)" />
        </label>
        @if (invalid(create.controls.email)) {
          <span class="field-error">Enter a valid e-mail address.</span>
        }
        <label
          >Your name
          <input formControlName="fullName" autocomplete="name" />
        </label>
        <button type="submit" [disabled]="busy()">{{ busy() === 'create' ? 'Creating…' : 'Create and sign in' }}</button>
      </form>
    </div>
    @if (error(); as e) {
      <p class="error" role="alert" data-testid="form-error">{{ e }}</p>
    }
  `,
})
export class SignInComponent {
  private readonly api = inject(ApiService);
  private readonly auth = inject(AuthService);
  private readonly router = inject(Router);
  protected readonly routing = inject(RegionRoutingService);
  protected readonly expired = inject(ActivatedRoute).snapshot.queryParamMap.has('expired');
  protected readonly busy = signal<'sign-in' | 'create' | null>(null);
  protected readonly error = signal<string | null>(null);
  private readonly fb = inject(FormBuilder).nonNullable;
  protected readonly signIn = this.fb.group({
    orgId: ['', [Validators.required, Validators.pattern(ORG_ID)]],
    email: ['', [Validators.required, Validators.email]],
  });
  protected readonly create = this.fb.group({
    name: ['', [Validators.required, Validators.maxLength(200), Validators.pattern(/\S/)]],
    homeRegion: [this.routing.current() ?? this.routing.regions()[0]?.region ?? 'eu-west-1', Validators.required],
    email: ['', [Validators.required, Validators.email]],
    fullName: [''],
  });

  protected invalid(control: { invalid: boolean; touched: boolean }): boolean {
    return control.invalid && control.touched;
  }

  async submitSignIn(): Promise<void> {
    this.signIn.markAllAsTouched();
    if (this.signIn.invalid) return;
    const { orgId, email } = this.signIn.getRawValue();
    await this.run('sign-in', () => this.finish(orgId.trim(), email.trim()));
  }

  async submitCreate(): Promise<void> {
    this.create.markAllAsTouched();
    if (this.create.invalid) return;
    const { name, homeRegion, email, fullName } = this.create.getRawValue();
    await this.run('create', async () => {
      const org = await firstValueFrom(this.api.createOrg(name.trim(), homeRegion));
      // The first sign-in of an organization with no member is its bootstrap administrator.
      const session = await this.finish(org.id, email.trim(), false);
      await firstValueFrom(
        this.api.create(org.id, 'users', { email: email.trim(), fullName: fullName.trim() || email.trim(), role: 'admin' }),
      );
      this.auth.set(session);
      await this.router.navigate(['/dossiers']);
    });
  }

  private async finish(orgId: string, email: string, navigate = true) {
    const t = await firstValueFrom(this.api.devSignIn(orgId, email));
    const session = {
      token: t.token,
      expiresAt: t.expiresAt,
      userId: t.userId,
      orgId: t.orgId,
      role: t.role as Role,
      homeRegion: t.homeRegion,
      email,
    };
    this.auth.set(session);
    if (navigate) await this.router.navigate(['/dossiers']);
    return session;
  }

  private async run(what: 'sign-in' | 'create', work: () => Promise<unknown>): Promise<void> {
    this.busy.set(what);
    this.error.set(null);
    try {
      await work();
    } catch (err) {
      this.error.set(apiErrorMessage(err));
    } finally {
      this.busy.set(null);
    }
  }
}
