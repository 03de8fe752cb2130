import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Where a local Atlas keeps its data: `.atlas/` in the working directory unless ATLAS_HOME. */
export function atlasHome(): string {
  return resolve(process.env.ATLAS_HOME ?? '.atlas');
}

export function regionDir(home: string, region: string): string {
  return join(home, region);
}

export interface LocalSecrets {
  /** Password of the postgres superuser (migrations, replication set-up). */
  readonly superuserPassword: string;
  /** Password of atlas_app, the API's role: no ownership, no BYPASSRLS. */
  readonly appPassword: string;
  /** Password of atlas_cache_stream, the API's cache-invalidation stream role (replication only). */
  readonly cacheStreamPassword: string;
  /** Key of the blind index (keyed hash) that lets global rows route a login by e-mail. */
  readonly blindIndexKey: string;
  /** Per-region keys for document bodies at rest (AES-256-GCM), base64. */
  readonly documentKeys: Readonly<Record<string, string>>;
  /** Ed25519 private key (JWK) that signs API tokens; its public half verifies them. */
  readonly authSigningKey: Ed25519Jwk;
  /** Ed25519 private key (JWK) that signs the audit chain's checkpoints. */
  readonly auditSigningKey: Ed25519Jwk;
}

/** An Ed25519 key as a JWK: `d` is present on private keys only. */
export interface Ed25519Jwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly d?: string;
}

/** A fresh Ed25519 key pair, as the private JWK (the public key is its `x`). */
export function generateEd25519Jwk(): Ed25519Jwk {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { x: string; d: string };
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d };
}

/** The public half of an Ed25519 JWK. */
export function publicJwk(key: Ed25519Jwk): Ed25519Jwk {
  return { kty: 'OKP', crv: 'Ed25519', x: key.x };
}

const secret = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/**
 * Loads the local secrets, generating them on first start (never committed: they live under
 * ATLAS_HOME, mode 0600). A region added later gets its document key on its first start.
 */
export async function loadOrCreateSecrets(home: string, regions: readonly string[]): Promise<LocalSecrets> {
  const file = join(home, 'secrets.json');
  await mkdir(home, { recursive: true, mode: 0o755 });
  await chmod(home, 0o755);
  let current: Partial<LocalSecrets> = {};
  try {
    current = JSON.parse(await readFile(file, 'utf8')) as Partial<LocalSecrets>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const documentKeys = { ...current.documentKeys };
  for (const region of regions) documentKeys[region] ??= randomBytes(32).toString('base64');
  const next: LocalSecrets = {
    superuserPassword: current.superuserPassword ?? secret(),
    appPassword: current.appPassword ?? secret(),
    cacheStreamPassword: current.cacheStreamPassword ?? secret(),
    blindIndexKey: current.blindIndexKey ?? secret(),
    documentKeys,
    authSigningKey: current.authSigningKey ?? generateEd25519Jwk(),
    auditSigningKey: current.auditSigningKey ?? generateEd25519Jwk(),
  };
  if (JSON.stringify(next) !== JSON.stringify(current)) {
    await writeFile(file, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  }
  return next;
}
