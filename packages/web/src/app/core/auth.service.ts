import { Injectable, computed, inject, signal } from '@angular/core';
import { STORAGE, WALL_CLOCK } from './browser.tokens';

export type Role = 'admin' | 'agent' | 'viewer' | 'dpo';

export interface Session {
  readonly token: string;
  readonly expiresAt: string;
  readonly userId: string;
  readonly orgId: string;
  readonly role: Role;
  readonly homeRegion: string;
  readonly email: string;
}

const KEY = 'atlas.session';

/** The signed-in user (a token from the API's sign-in), kept in storage across reloads. */
@Injectable({ providedIn: 'root' })
export class AuthService {
  private readonly storage = inject(STORAGE);
  private readonly wall = inject(WALL_CLOCK);
  readonly session = signal<Session | null>(this.restore());
  readonly signedIn = computed(() => this.session() !== null);
  readonly role = computed(() => this.session()?.role ?? null);

  set(session: Session): void {
    this.storage.setItem(KEY, JSON.stringify(session));
    this.session.set(session);
  }

  signOut(): void {
    this.storage.removeItem(KEY);
    this.session.set(null);
  }

  hasRole(...roles: Role[]): boolean {
    const role = this.role();
    return role !== null && roles.includes(role);
  }

  private restore(): Session | null {
    try {
      const raw = this.storage.getItem(KEY);
      const s = raw ? (JSON.parse(raw) as Session) : null;
      return s && Date.parse(s.expiresAt) > this.wall() ? s : null;
    } catch {
      return null;
    }
  }
}
