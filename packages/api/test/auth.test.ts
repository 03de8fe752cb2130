import { createHmac, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, bearer, signToken, startRegionApp, tokenClaims, type RegionApp } from '../../../test/support/regions';

/** Two tenants of the same region: the attacker holds valid tokens of its own organization. */
describe('authentication and authorization', () => {
  let r: RegionApp;
  let victim: string;
  let attacker: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    r = await startRegionApp('eu-west-1');
    victim = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Victim Homes', homeRegion: 'eu-west-1' } })).json().id;
    attacker = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Attacker Realty', homeRegion: 'eu-west-1' } })).json().id;
    const v = r.as(victim);
    ids.dossier = (await v.inject({ method: 'POST', url: `/api/orgs/${victim}/dossiers`, payload: { title: 'Secret dossier', clientName: 'Vera Victim', clientEmail: 'vera@victim.example' } })).json().id;
    ids.annonce = (await v.inject({ method: 'POST', url: `/api/orgs/${victim}/annonces`, payload: { title: 'Secret listing', price: 1 } })).json().id;
    ids.activity = (await v.inject({ method: 'POST', url: `/api/orgs/${victim}/activities`, payload: { kind: 'call', subject: 'Secret call' } })).json().id;
    ids.document = (await v.inject({ method: 'POST', url: `/api/orgs/${victim}/documents`, payload: { filename: 'secret.pdf' } })).json().id;
    ids.user = (await v.inject({ method: 'POST', url: `/api/orgs/${victim}/users`, payload: { email: 'boss@victim.example', fullName: 'Victor Boss', role: 'agent' } })).json().id;
    ids.request = (await r.as(victim, 'dpo').inject({ method: 'POST', url: `/api/orgs/${victim}/privacy/requests`, payload: { type: 'access', subject: { email: 'vera@victim.example' } } })).json().id;
    for (const [k, v2] of Object.entries(ids)) expect(v2, k).toMatch(/^[0-9a-f-]{36}$|^usr_/);
  });
  afterAll(() => r.close());

  const idFor = (path: string, name: string): string => {
    if (name === 'userId') return ids.user!;
    if (name === 'requestId') return ids.request!;
    const collection = /\/api\/orgs\/\{orgId\}\/([a-z-]+)/.exec(path)?.[1] ?? '';
    return { dossiers: ids.dossier, annonces: ids.annonce, activities: ids.activity, documents: ids.document }[collection] ?? ids.dossier!;
  };

  /** Every operation under /api/orgs/{orgId}/…, from the API's own OpenAPI document. */
  function orgRoutes(): Array<{ method: string; path: string }> {
    const doc = r.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    return Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/orgs/{orgId}'))
      .flatMap(([path, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => ({ method: m.toUpperCase(), path })));
  }
  const fill = (path: string, orgId: string) => path.replace('{orgId}', orgId).replace(/\{(\w+)\}/g, (_m, name: string) => idFor(path, name));
  const bodyFor = (method: string, path: string) =>
    method === 'PUT' && path.endsWith('/content')
      ? { payload: Buffer.from('bytes'), headers: { 'content-type': 'application/octet-stream' } }
      : ['POST', 'PUT', 'PATCH'].includes(method)
        ? { payload: { title: 'x' } }
        : {};

  it('covers every organization route of the API', () => {
    const routes = orgRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(30);
    expect(routes.map((x) => `${x.method} ${x.path}`)).toEqual(expect.arrayContaining(['POST /api/orgs/{orgId}/privacy/requests', 'GET /api/orgs/{orgId}/audit/verify', 'DELETE /api/orgs/{orgId}/dossiers/{id}']));
  });

  it("refuses every organization route to another organization's token (403, no data)", async () => {
    const before = await adminQuery('eu-west-1', 'SELECT count(*)::int AS n FROM dossier WHERE org_id = $1', [victim]);
    for (const { method, path } of orgRoutes()) {
      const extra = bodyFor(method, path);
      const res = await r.app.inject({ method: method as 'GET', url: fill(path, victim), ...extra, headers: { ...bearer(attacker, 'admin'), ...('headers' in extra ? extra.headers : {}) } });
      expect(res.statusCode, `${method} ${path}`).toBe(403);
      expect(res.json().error.code).toBe('ATLAS_ERR_FORBIDDEN');
      expect(res.body).not.toMatch(/Secret|Vera|Victor|victim\.example/);
    }
    const after = await adminQuery('eu-west-1', 'SELECT count(*)::int AS n FROM dossier WHERE org_id = $1', [victim]);
    expect(after).toEqual(before);
  });

  it("answers 404 with no data when an organization's token names another tenant's record ids", async () => {
    const own = r.as(attacker);
    for (const { method, path } of orgRoutes().filter((x) => /\{(id|userId|requestId)\}/.test(x.path))) {
      const extra = bodyFor(method, path);
      const res = await own.inject({ method: method as 'GET', url: fill(path, attacker), ...extra });
      expect([404, 400], `${method} ${path}`).toContain(res.statusCode);
      expect(res.body).not.toMatch(/Secret|Vera|Victor|victim\.example/);
    }
    const still = await adminQuery('eu-west-1', 'SELECT title, client_name FROM dossier WHERE id = $1', [ids.dossier]);
    expect(still).toEqual([{ title: 'Secret dossier', client_name: 'Vera Victim' }]);
    const lists = await own.inject({ method: 'GET', url: `/api/orgs/${attacker}/dossiers` });
    expect(lists.json().items).toEqual([]);
  });

  describe('the token suite: anything but a valid token is 401', () => {
    const url = () => `/api/orgs/${victim}/dossiers`;
    const cases: Array<[string, () => string | undefined]> = [
      ['no token', () => undefined],
      ['not a bearer header', () => `Basic ${Buffer.from('a:b').toString('base64')}`],
      ['garbage', () => 'Bearer not.a.token'],
      ['expired', () => `Bearer ${signToken({ ...tokenClaims(victim), iat: 1_700_000_000, exp: 1_700_000_600 })}`],
      ['wrong issuer', () => `Bearer ${signToken({ ...tokenClaims(victim), iss: 'evil' })}`],
      ['wrong audience', () => `Bearer ${signToken({ ...tokenClaims(victim), aud: 'other-api' })}`],
      ['no expiry', () => `Bearer ${signToken({ ...tokenClaims(victim), exp: undefined })}`],
      ['unknown role', () => `Bearer ${signToken({ ...tokenClaims(victim), roles: ['root'] })}`],
      ['home region not the organization\'s', () => `Bearer ${signToken({ ...tokenClaims(victim), home: 'us-east-1' })}`],
      [
        'alg none',
        () => {
          const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
          return `Bearer ${part({ alg: 'none', typ: 'JWT' })}.${part(tokenClaims(victim))}.`;
        },
      ],
      [
        'algorithm confusion (HS256 keyed with the public key)',
        () => {
          const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
          const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(tokenClaims(victim))}`;
          const x = (r.app.atlas.config.security.authPublicKey.x);
          return `Bearer ${input}.${createHmac('sha256', Buffer.from(x, 'base64url')).update(input).digest('base64url')}`;
        },
      ],
      ['EdDSA header, signed by another key', () => {
        const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
        const input = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part(tokenClaims(victim))}`;
        return `Bearer ${input}.${sign(null, Buffer.from(input), generateKeyPairSync('ed25519').privateKey).toString('base64url')}`;
      }],
      [
        'tampered payload (role raised after signing)',
        () => {
          const [h, , s] = signToken(tokenClaims(victim, 'viewer')).split('.');
          return `Bearer ${h}.${Buffer.from(JSON.stringify(tokenClaims(victim, 'admin'))).toString('base64url')}.${s}`;
        },
      ],
      [
        'tampered signature',
        () => {
          const t = signToken(tokenClaims(victim));
          return `Bearer ${t.slice(0, -4)}${t.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
        },
      ],
    ];
    it.each(cases)('%s', async (_name, header) => {
      const value = header();
      const res = await r.app.inject({ method: 'GET', url: url(), headers: value === undefined ? {} : { authorization: value } });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('ATLAS_ERR_UNAUTHENTICATED');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.body).not.toContain('Secret');
    });
  });

  it('remembers a verified token only until it expires: the same token is refused once expired', async () => {
    // Within the 5 s clock tolerance now, beyond it about 2 s from now.
    const now = Math.floor(Date.now() / 1000);
    const header = { authorization: `Bearer ${signToken({ ...tokenClaims(victim, 'viewer'), iat: now - 60, exp: now - 3 })}` };
    const url = `/api/orgs/${victim}/annonces`;
    expect((await r.app.inject({ method: 'GET', url, headers: header })).statusCode).toBe(200);
    expect((await r.app.inject({ method: 'GET', url, headers: header })).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, (now + 3) * 1000 - Date.now() + 200));
    const late = await r.app.inject({ method: 'GET', url, headers: header });
    expect(late.statusCode).toBe(401);
    expect(late.json().error.message).toMatch(/expired/);
  });

  it('lets a viewer read but not write, an agent write but not manage users, a dpo handle privacy only', async () => {
    const viewer = r.as(victim, 'viewer');
    expect((await viewer.inject({ method: 'GET', url: `/api/orgs/${victim}/dossiers/${ids.dossier}` })).statusCode).toBe(200);
    expect((await viewer.inject({ method: 'POST', url: `/api/orgs/${victim}/dossiers`, payload: { title: 'no' } })).statusCode).toBe(403);
    expect((await viewer.inject({ method: 'PATCH', url: `/api/orgs/${victim}/dossiers/${ids.dossier}`, payload: { title: 'no' } })).statusCode).toBe(403);
    const agent = r.as(victim, 'agent');
    expect((await agent.inject({ method: 'POST', url: `/api/orgs/${victim}/dossiers`, payload: { title: 'agent work' } })).statusCode).toBe(201);
    expect((await agent.inject({ method: 'POST', url: `/api/orgs/${victim}/users`, payload: { email: 'x@victim.example', fullName: 'X', role: 'admin' } })).statusCode).toBe(403);
    expect((await agent.inject({ method: 'GET', url: `/api/orgs/${victim}/audit-events` })).statusCode).toBe(403);
    expect((await agent.inject({ method: 'POST', url: `/api/orgs/${victim}/privacy/requests`, payload: { type: 'access', subject: { email: 'a@b.co' } } })).statusCode).toBe(403);
    const dpo = r.as(victim, 'dpo');
    expect((await dpo.inject({ method: 'GET', url: `/api/orgs/${victim}/privacy/requests` })).statusCode).toBe(200);
    expect((await dpo.inject({ method: 'GET', url: `/api/orgs/${victim}/dossiers` })).statusCode).toBe(403);
    expect((await r.as(attacker, 'agent').inject({ method: 'PUT', url: '/api/referential/evil/x', payload: { label: 'x' } })).statusCode).toBe(403);
  });

  it('uses the role in the database, not the token, once the user exists (demotion is immediate)', async () => {
    // The victim's agent, with a token that still claims admin.
    const res = await r.as(victim, 'admin', ids.user).inject({ method: 'POST', url: `/api/orgs/${victim}/users`, payload: { email: 'y@victim.example', fullName: 'Y', role: 'viewer' } });
    expect(res.statusCode).toBe(403);
  });

  it('caches an unknown user too, and drops that the moment the user row arrives', async () => {
    // A token for a user this region has not seen (its row still replicating, say): the token's
    // own role holds, and the absence is cached, until the row lands and says otherwise.
    const userId = `usr_${randomUUID().replace(/-/g, '').slice(0, 26)}`;
    const audit = { method: 'GET' as const, url: `/api/orgs/${victim}/audit-events` };
    expect((await r.as(victim, 'admin', userId).inject(audit)).statusCode).toBe(200);
    expect((await r.as(victim, 'admin', userId).inject(audit)).statusCode).toBe(200);
    await adminQuery('eu-west-1', "INSERT INTO app_user (id, org_id, role, email_hash) VALUES ($1, $2, 'viewer', repeat('a', 64))", [userId, victim]);
    await expect.poll(async () => (await r.as(victim, 'admin', userId).inject(audit)).statusCode, { timeout: 5_000, interval: 20 }).toBe(403);
    // Another organization's token naming that user: the known row is not theirs.
    expect((await r.as(attacker, 'admin', userId).inject({ method: 'GET', url: `/api/orgs/${attacker}/audit-events` })).statusCode).toBe(401);
  });

  it('refuses the token of a deleted user', async () => {
    const u = (await r.as(victim).inject({ method: 'POST', url: `/api/orgs/${victim}/users`, payload: { email: 'leaver@victim.example', fullName: 'Lea Ver', role: 'agent' } })).json();
    expect((await r.as(victim, 'agent', u.id).inject({ method: 'GET', url: `/api/orgs/${victim}/annonces` })).statusCode).toBe(200);
    expect((await r.as(victim).inject({ method: 'DELETE', url: `/api/orgs/${victim}/users/${u.id}` })).statusCode).toBe(204);
    const res = await r.as(victim, 'agent', u.id).inject({ method: 'GET', url: `/api/orgs/${victim}/annonces` });
    expect(res.statusCode).toBe(401);
  });

  it("serves a user's preferences to that user only", async () => {
    const url = `/api/users/${ids.user}/preferences`;
    expect((await r.as(victim, 'agent', ids.user).inject({ method: 'PUT', url, payload: { theme: 'dark' } })).statusCode).toBe(200);
    expect((await r.as(victim, 'admin').inject({ method: 'GET', url })).statusCode).toBe(403);
    // A token of another organization naming this user: the user is not theirs (401 once the
    // user's row is known here, 404 under the other tenant otherwise), and nothing is served.
    const foreign = await r.as(attacker, 'admin', ids.user).inject({ method: 'GET', url });
    expect([401, 404]).toContain(foreign.statusCode);
    expect(foreign.body).not.toContain('dark');
    expect((await r.app.inject({ method: 'GET', url })).statusCode).toBe(401);
  });

  it('ignores or refuses mass assignment of orgId, region, role and homeRegion', async () => {
    const own = r.as(attacker);
    for (const extra of [{ orgId: victim }, { region: 'us-east-1' }, { role: 'admin' }, { homeRegion: 'us-east-1' }]) {
      const res = await own.inject({ method: 'POST', url: `/api/orgs/${attacker}/dossiers`, payload: { title: 'mass', ...extra } });
      expect(res.statusCode, JSON.stringify(extra)).toBe(400);
      const patch = await own.inject({ method: 'PATCH', url: `/api/orgs/${attacker}/dossiers/${ids.dossier}`, payload: { title: 'mass', ...extra } });
      expect(patch.statusCode).toBe(400);
    }
    const prefs = await r.as(victim, 'agent', ids.user).inject({ method: 'PUT', url: `/api/users/${ids.user}/preferences`, payload: { theme: 'light', orgId: attacker } });
    expect(prefs.statusCode).toBe(400);
    const self = await r.as(victim, 'agent', ids.user).inject({ method: 'PATCH', url: `/api/orgs/${victim}/users/${ids.user}`, payload: { role: 'admin' } });
    expect(self.statusCode).toBe(403);
    expect(await adminQuery('eu-west-1', 'SELECT count(*)::int AS n FROM dossier WHERE title = $1', ['mass'])).toEqual([{ n: 0 }]);
    expect(await adminQuery('eu-west-1', 'SELECT role FROM app_user WHERE id = $1', [ids.user])).toEqual([{ role: 'agent' }]);
  });

  it('issues dev tokens: bootstrap admin for an empty organization, the user\'s own role after', async () => {
    const org = (await r.app.inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Fresh', homeRegion: 'eu-west-1' } })).json().id;
    const first = await r.app.inject({ method: 'POST', url: '/api/auth/dev-token', payload: { orgId: org, email: 'owner@fresh.example' } });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ orgId: org, role: 'admin', homeRegion: 'eu-west-1' });
    const auth = { authorization: `Bearer ${first.json().token}` };
    expect((await r.app.inject({ method: 'POST', url: `/api/orgs/${org}/users`, headers: auth, payload: { email: 'owner@fresh.example', fullName: 'Owner', role: 'admin' } })).statusCode).toBe(201);
    expect((await r.app.inject({ method: 'POST', url: `/api/orgs/${org}/users`, headers: auth, payload: { email: 'agent@fresh.example', fullName: 'Agent', role: 'agent' } })).statusCode).toBe(201);
    const agent = await r.app.inject({ method: 'POST', url: '/api/auth/dev-token', payload: { orgId: org, email: 'AGENT@fresh.example' } });
    expect(agent.json().role).toBe('agent');
    const stranger = await r.app.inject({ method: 'POST', url: '/api/auth/dev-token', payload: { orgId: org, email: 'nobody@fresh.example' } });
    expect(stranger.statusCode).toBe(404);
  });

  it('sets security headers and answers CORS only for allow-listed origins', async () => {
    const res = await r.as(victim).inject({ method: 'GET', url: `/api/orgs/${victim}/annonces`, headers: { origin: 'https://app.atlas.example' } });
    expect(res.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'access-control-allow-origin': 'https://app.atlas.example',
    });
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    const evil = await r.as(victim).inject({ method: 'GET', url: `/api/orgs/${victim}/annonces`, headers: { origin: 'https://evil.example' } });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await r.app.inject({ method: 'OPTIONS', url: `/api/orgs/${victim}/annonces`, headers: { origin: 'https://app.atlas.example', 'access-control-request-method': 'POST' } });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toContain('authorization');
    const badPreflight = await r.app.inject({ method: 'OPTIONS', url: `/api/orgs/${victim}/annonces`, headers: { origin: 'https://evil.example' } });
    expect(badPreflight.statusCode).toBe(403);
  });
});
