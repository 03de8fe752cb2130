import { homeRegionOfOrg, type Topology } from '@atlas/core';

export interface DevToken {
  readonly token: string;
  readonly expiresAt: string;
  readonly userId: string;
  readonly role: string;
  readonly homeRegion: string;
}

/**
 * Signs in through the organization's home region's dev sign-in route (served when the API
 * runs with ATLAS_DEV_AUTH=1, as `atlas up` starts it). Also what `atlas seed` can use.
 */
export async function devLogin(topology: Topology, orgId: string, email: string): Promise<DevToken> {
  const home = homeRegionOfOrg(topology, orgId);
  if (!home) throw new Error(`${orgId} is not an organization id of this topology`);
  const res = await fetch(`http://127.0.0.1:${home.apiPort}/api/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ orgId, email }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as DevToken & { error?: { message: string } };
  if (res.status === 404 && body.error?.message.startsWith('no route')) throw new Error(`${home.id} does not offer dev sign-in (start the API with ATLAS_DEV_AUTH=1)`);
  if (!res.ok) throw new Error(`sign-in refused by ${home.id}: ${body.error?.message ?? res.status}`);
  return body;
}

/** `atlas login --org <id> --email <e>`: prints a bearer token (stdout) and its terms (stderr). */
export async function login(options: { topology: Topology; orgId?: string; email?: string; log: (line: string) => void }): Promise<number> {
  if (!options.orgId || !options.email) {
    process.stderr.write('atlas login needs --org <organization id> and --email <address>\n');
    return 2;
  }
  const t = await devLogin(options.topology, options.orgId, options.email);
  process.stderr.write(`signed in as ${t.userId} (${t.role}) of ${options.orgId}, home ${t.homeRegion}; expires ${t.expiresAt}\n`);
  options.log(t.token);
  return 0;
}
