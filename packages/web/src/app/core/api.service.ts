import { HttpClient, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { map, type Observable } from 'rxjs';
import type { Role, Session } from './auth.service';
import { REGION_HINT_HEADER, RegionRoutingService } from './region-routing.service';

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}
export interface Organization {
  id: string;
  name: string;
  homeRegion: string;
  originRegion: string;
  createdAt: string;
  updatedAt: string;
}
export interface Dossier {
  id: string;
  orgId: string;
  region: string;
  title: string;
  reference: string | null;
  description: string | null;
  status: string;
  clientName: string | null;
  clientEmail: string | null;
  clientPhone: string | null;
  createdAt: string;
  updatedAt: string;
}
export interface Annonce {
  id: string;
  dossierId: string | null;
  title: string;
  description: string | null;
  propertyType: string;
  transactionType: string;
  price: number | null;
  currency: string;
  surfaceM2: number | null;
  rooms: number | null;
  city: string | null;
  country: string | null;
  status: string;
  createdAt: string;
}
export interface Activity {
  id: string;
  dossierId: string | null;
  kind: string;
  subject: string;
  body: string | null;
  occurredAt: string;
  createdAt: string;
}
export interface DocumentMeta {
  id: string;
  dossierId: string | null;
  filename: string;
  contentType: string;
  sizeBytes: number | null;
  uploaded: boolean;
  createdAt: string;
}
export interface AuditEvent {
  id: string;
  actor: string;
  action: string;
  entity: string;
  entityId: string | null;
  outcome: string;
  sourceIp: string | null;
  at: string;
}
export interface PrivacyRequest {
  id: string;
  type: string;
  status: string;
  subjectUserId: string | null;
  requestedBy: string;
  receivedAt: string;
  dueAt: string;
  completedAt: string | null;
}
export interface ReplicationLink {
  [key: string]: unknown;
}

type Query = Record<string, string | number | undefined | null>;

function params(query: Query = {}): HttpParams {
  let p = new HttpParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') p = p.set(k, String(v));
  return p;
}

/** The API's real endpoints (packages/api/src/routes), same origin through the edge. */
@Injectable({ providedIn: 'root' })
export class ApiService {
  private readonly http = inject(HttpClient);
  private readonly routing = inject(RegionRoutingService);

  /** Global requests about one organization go to its home first: its row is there before anywhere else. */
  private homeHint(orgIdOrRegion: string): { [REGION_HINT_HEADER]: string } | Record<string, never> {
    const region = this.routing.regions().some((r) => r.region === orgIdOrRegion)
      ? orgIdOrRegion
      : this.routing.homeOf(orgIdOrRegion)?.region;
    return region ? { [REGION_HINT_HEADER]: region } : {};
  }

  devSignIn(orgId: string, email: string): Observable<Omit<Session, 'email' | 'role'> & { role: Role }> {
    return this.http.post<Omit<Session, 'email' | 'role'> & { role: Role }>(
      '/api/auth/dev-token',
      { orgId, email },
      { headers: this.homeHint(orgId) },
    );
  }
  createOrg(name: string, homeRegion: string): Observable<Organization> {
    return this.http.post<Organization>('/api/orgs', { name, homeRegion }, { headers: this.homeHint(homeRegion) });
  }
  myOrgs(): Observable<Page<Organization>> {
    return this.http.get<Page<Organization>>('/api/orgs');
  }
  org(orgId: string): Observable<Organization> {
    return this.http.get<Organization>(`/api/orgs/${encodeURIComponent(orgId)}`);
  }
  renameOrg(orgId: string, name: string): Observable<Organization> {
    return this.http.patch<Organization>(`/api/orgs/${encodeURIComponent(orgId)}`, { name });
  }

  list<T>(orgId: string, collection: string, query: Query = {}): Observable<Page<T>> {
    return this.http.get<Page<T>>(`/api/orgs/${encodeURIComponent(orgId)}/${collection}`, { params: params(query) });
  }
  get<T>(orgId: string, collection: string, id: string): Observable<T> {
    return this.http.get<T>(`/api/orgs/${encodeURIComponent(orgId)}/${collection}/${encodeURIComponent(id)}`);
  }
  create<T>(orgId: string, collection: string, body: object): Observable<T> {
    return this.http.post<T>(`/api/orgs/${encodeURIComponent(orgId)}/${collection}`, body);
  }
  update<T>(orgId: string, collection: string, id: string, body: object): Observable<T> {
    return this.http.patch<T>(`/api/orgs/${encodeURIComponent(orgId)}/${collection}/${encodeURIComponent(id)}`, body);
  }
  remove(orgId: string, collection: string, id: string): Observable<null> {
    return this.http.delete<null>(`/api/orgs/${encodeURIComponent(orgId)}/${collection}/${encodeURIComponent(id)}`);
  }

  uploadContent(orgId: string, id: string, file: Blob): Observable<DocumentMeta> {
    return this.http.put<DocumentMeta>(`/api/orgs/${encodeURIComponent(orgId)}/documents/${encodeURIComponent(id)}/content`, file, {
      headers: { 'content-type': 'application/octet-stream' },
    });
  }
  downloadContent(orgId: string, id: string): Observable<Blob> {
    return this.http.get(`/api/orgs/${encodeURIComponent(orgId)}/documents/${encodeURIComponent(id)}/content`, { responseType: 'blob' });
  }

  auditEvents(orgId: string, query: Query = {}): Observable<Page<AuditEvent>> {
    return this.list<AuditEvent>(orgId, 'audit-events', query);
  }
  privacyRequests(orgId: string, query: Query = {}): Observable<Page<PrivacyRequest>> {
    return this.list<PrivacyRequest>(orgId, 'privacy/requests', query);
  }
  filePrivacyRequest(orgId: string, body: object): Observable<PrivacyRequest> {
    return this.create<PrivacyRequest>(orgId, 'privacy/requests', body);
  }

  /** Which region serves global data for us now (the region that answers /api/regions/current). */
  regionServing(): Observable<string> {
    return this.http.get<{ region: string }>('/api/regions/current').pipe(map((r) => r.region));
  }

  replication(): Observable<unknown> {
    return this.http.get<unknown>('/api/regions/replication');
  }
}
