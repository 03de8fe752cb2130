import { cpus, totalmem, loadavg } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import autocannon from 'autocannon';
import { publicJwk, type LocalSecrets } from '@atlas/db';
import { fileURLToPath } from 'node:url';

export const BENCHMARKS_FILE = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));

export function machineDescription(): string {
  const cpu = cpus();
  return [
    `- date: ${new Date().toISOString()}`,
    `- cpu: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length}`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- node: ${process.version}, ${process.platform}-${process.arch}`,
    `- load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  ].join('\n');
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');

/**
 * Replaces (or appends) the section `## <title>` of docs/benchmarks.md, so each benchmark
 * can be re-run alone without losing the others' figures.
 */
export async function writeSection(title: string, body: string): Promise<void> {
  let text = await readFile(BENCHMARKS_FILE, 'utf8').catch(
    () => '# Benchmarks\n\nWritten by `npm run bench` (all) or `npm run bench -- <name>`. Ratios compare figures measured in the same run: this machine is shared and noisy.\n',
  );
  const header = `## ${title}`;
  const section = `${header}\n\n${body.trim()}\n`;
  const start = text.indexOf(`${header}\n`);
  if (start === -1) {
    text = `${text.trimEnd()}\n\n${section}`;
  } else {
    const next = text.indexOf('\n## ', start + header.length);
    text = `${text.slice(0, start)}${section}${next === -1 ? '' : text.slice(next)}`;
  }
  await writeFile(BENCHMARKS_FILE, `${text.trimEnd()}\n`);
}

export interface LoadFigures {
  readonly name: string;
  readonly rps: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly errors: number;
}

/** One autocannon run; p95 is interpolated between the p90 and p97.5 autocannon reports. */
export async function cannon(name: string, opts: autocannon.Options): Promise<LoadFigures> {
  const result = await autocannon(opts);
  const l = result.latency as unknown as Record<string, number>;
  const p95 = l.p95 ?? l.p90! + ((l.p97_5! - l.p90!) * 5) / 7.5;
  return { name, rps: result.requests.average, p50: l.p50!, p95, p99: l.p99!, errors: result.errors + result.non2xx };
}

/** The API's authentication settings as `atlas up` sets them, with rate limits out of the way. */
export function benchAuthEnv(secrets: LocalSecrets): NodeJS.ProcessEnv {
  return {
    ATLAS_AUTH_PUBLIC_KEY: JSON.stringify(publicJwk(secrets.authSigningKey)),
    ATLAS_AUTH_SIGNING_KEY: JSON.stringify(secrets.authSigningKey),
    ATLAS_AUDIT_SIGNING_KEY: JSON.stringify(secrets.auditSigningKey),
    ATLAS_DEV_AUTH: '1',
    // The benchmarks measure the request path, not the rate limiter.
    ATLAS_RATE_LIMIT_IP: '1000000/60',
    ATLAS_RATE_LIMIT_ORG: '1000000/60',
  };
}

/** A bearer header for the organization's first admin, through local sign-in. */
export async function benchSignIn(apiUrl: string, orgId: string, email = 'bench-admin@example.eu'): Promise<Record<string, string>> {
  const res = await fetch(`${apiUrl}/api/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ orgId, email }),
  });
  if (!res.ok) throw new Error(`local sign-in failed: ${res.status} ${await res.text()}`);
  const auth = { authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
  // The bootstrap token's user gets its row, as every real client's user has: the request path
  // then measures a (cached) live user, not a user the database is asked about on every call.
  const made = await fetch(`${apiUrl}/api/orgs/${orgId}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ email, fullName: 'Bench Admin', role: 'admin' }),
  });
  if (!made.ok && made.status !== 409) throw new Error(`creating the bench user failed: ${made.status} ${await made.text()}`);
  return auth;
}
