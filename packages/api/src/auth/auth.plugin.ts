import type { FastifyInstance, FastifyRequest } from 'fastify';
import { withTenant, findAppUserRow, findLiveAppUser } from '@atlas/db';
import type { AppContext } from '../context';
import { assertHomeRegion } from '../plugins/residency';
import { authorizeRole, authorizeScope, routeAccess } from './policy';
import { TokenVerifier, unauthenticated, type Principal } from './tokens';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;

/** What the database says of a user, as one organization (the tenant of the lookup) sees it. */
export interface UserState {
  /** The organization whose tenant transaction looked: absence is only absence to it. */
  readonly seenBy: string;
  readonly user: Awaited<ReturnType<typeof findLiveAppUser>> | null;
  /** A row exists but is deleted or erased. */
  readonly gone: boolean;
}

/**
 * The user's state, cached per user and invalidated by the row's change (an insert arriving by
 * replication included), so an unknown or removed user costs no database round trip either.
 * An absence seen by another organization's tenant is not trusted: it is looked up again.
 */
export async function userState(ctx: AppContext, orgId: string, userId: string): Promise<UserState> {
  const load = () =>
    withTenant(ctx.db.db, orgId, async (tx): Promise<UserState> => {
      const row = await findAppUserRow(tx, userId);
      const user = row && row.tombstone === null ? ((await findLiveAppUser(tx, userId)) ?? null) : null;
      return { seenBy: orgId, user, gone: row !== undefined && user === null };
    });
  const state = (await ctx.cache.read('app_user', userId, load))!;
  return state.user === null && state.seenBy !== orgId ? load() : state;
}

/**
 * The user behind a token must not have been deleted or erased since it was issued; a live
 * user's role is the database's (a demotion takes effect at once). A user row not here yet
 * (replication lag) leaves the token's own roles.
 */
async function currentRoles(ctx: AppContext, principal: Principal): Promise<Principal> {
  const { user, gone } = await userState(ctx, principal.orgId, principal.userId);
  if (user) {
    if (user.orgId !== principal.orgId) throw unauthenticated('the token does not match its user');
    return { ...principal, roles: [user.role] };
  }
  if (gone) throw unauthenticated('the user of this token no longer exists');
  return principal;
}

/**
 * Authentication and authorization for every route, as the first onRequest hook after rate
 * limiting: (1) public routes pass; (2) regional routes get the pure residency check (421)
 * first; (3) the bearer token is verified (401), then its organization's rate limit (429);
 * (4) organization, user and operator scope
 * (403); (5) the user still exists, with its current role (401; database, cached); (6) the
 * route's roles (403). Nothing is parsed or read for a caller who fails.
 */
export async function registerAuth(
  app: FastifyInstance,
  ctx: AppContext,
  limitOrganization: (orgId: string) => Promise<void> = async () => undefined,
  given?: TokenVerifier,
): Promise<TokenVerifier> {
  const verifier = given ?? (await TokenVerifier.create(ctx.config.security.authPublicKey, ctx.config.topology));
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const route = routeAccess(request.method, request.routeOptions.url, request.routeOptions.config);
    if (route === 'public') return;
    const params = (request.params ?? {}) as Record<string, string | undefined>;
    if (route.regional) assertHomeRegion(ctx, params.orgId);
    const header = request.headers.authorization;
    if (header === undefined) throw unauthenticated('this route needs a token: Authorization: Bearer <token>');
    const match = BEARER.exec(header.trim());
    if (!match) throw unauthenticated('the Authorization header is not a bearer token');
    const claimed = await verifier.verify(match[1]!);
    await limitOrganization(claimed.orgId);
    const outOfScope = authorizeScope(claimed, route, params, ctx.config.security.operatorOrgId);
    if (outOfScope) throw outOfScope;
    const principal = await currentRoles(ctx, claimed);
    const wrongRole = authorizeRole(principal, route);
    if (wrongRole) throw wrongRole;
    request.principal = principal;
  });
  return verifier;
}
