import { AtlasError } from '@atlas/core';
import type { Role } from '@atlas/db';
import type { Principal } from './tokens';

/** What a route demands: one role or any of several. */
export type RoleRequirement = Role | readonly Role[];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles allowed on this route (any of them); default: readers for GET, writers otherwise. */
    requireRole?: RoleRequirement;
    /** Served without a token. */
    public?: boolean;
  }
  interface FastifyRequest {
    /** The verified caller; null on public routes. */
    principal: Principal | null;
  }
}

/** viewer reads only; dpo works on privacy requests and the audit trail (routes say so). */
export const READ_ROLES: readonly Role[] = ['admin', 'agent', 'viewer'];
export const WRITE_ROLES: readonly Role[] = ['admin', 'agent'];

/**
 * Routes served without a token, in one place. Everything else under /api/ needs one:
 * a route someone adds later is closed until it is listed here or says `config.public`.
 * POST /api/orgs stays open for now (self-service sign-up): it creates an empty organization
 * and gives nobody access to it; the first admin comes from the sign-in flow.
 */
const PUBLIC_PREFIXES = ['/api/regions', '/api/metrics/latency', '/api/auth/'] as const;
const PUBLIC_ROUTES = new Set(['GET /api/referential', 'GET /api/referential/:kind', 'POST /api/orgs']);

export interface ProtectedRoute {
  readonly roles: readonly Role[];
  /** Regional data (/api/orgs/:orgId/…): the residency guard answers 421 before any auth work. */
  readonly regional: boolean;
  /** No organization in the path and admin-only: an operator route (replication, reference data). */
  readonly regionWide: boolean;
}

export function routeAccess(method: string, url: string | undefined, config: { requireRole?: RoleRequirement; public?: boolean } | undefined): ProtectedRoute | 'public' {
  // Unmatched URLs (404), non-API paths (health, metrics, docs) and listed routes are public.
  if (url === undefined || config?.public || !url.startsWith('/api/')) return 'public';
  const verb = method === 'HEAD' ? 'GET' : method;
  const required = config?.requireRole;
  // A route that names its roles is protected even under a public prefix (/api/regions/replication).
  const listed = PUBLIC_ROUTES.has(`${verb} ${url}`) || PUBLIC_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`) || (p.endsWith('/') && url.startsWith(p)));
  if (listed && required === undefined) return 'public';
  const roles: readonly Role[] = required === undefined ? (verb === 'GET' ? READ_ROLES : WRITE_ROLES) : typeof required === 'string' ? [required] : required;
  const orgScoped = url.startsWith('/api/orgs/:orgId');
  return { roles, regional: url.startsWith('/api/orgs/:orgId/'), regionWide: !orgScoped && roles.length === 1 && roles[0] === 'admin' };
}

const forbidden = (message: string) => new AtlasError('ATLAS_ERR_FORBIDDEN', message);

/**
 * Whether the principal may reach what the path names: its own organization, its own user
 * for /api/users/:userId, the operator organization for region-wide admin routes. Checked
 * before any database work. Returns the refusal, or undefined.
 */
export function authorizeScope(principal: Principal, route: ProtectedRoute, params: Readonly<Record<string, string | undefined>>, operatorOrgId?: string): AtlasError | undefined {
  if (params.orgId !== undefined && params.orgId !== principal.orgId) return forbidden('this token does not grant access to that organization');
  if (route.regionWide && operatorOrgId !== undefined && principal.orgId !== operatorOrgId) return forbidden('this route is for the operator organization');
  if (params.userId !== undefined && params.orgId === undefined && params.userId !== principal.userId) return forbidden("this token does not grant access to that user's data");
  return undefined;
}

/** Whether one of the principal's (current) roles is one the route allows. */
export function authorizeRole(principal: Principal, route: ProtectedRoute): AtlasError | undefined {
  return principal.roles.some((r) => route.roles.includes(r)) ? undefined : forbidden(`this route needs the role ${route.roles.join(' or ')}`);
}
