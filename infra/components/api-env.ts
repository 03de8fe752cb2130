import type * as pulumi from '@pulumi/pulumi';
import { API_ENV, type ApiEnvName, missingApiEnv } from '@atlas/api/config-keys';

/**
 * One variable of the API container: a plain value, or a Secrets Manager reference
 * (`<secret arn>` or `<secret arn>:<json key>::`) that ECS resolves when the task starts.
 */
export type ApiEnvSource = { readonly value: pulumi.Input<string> } | { readonly valueFrom: pulumi.Input<string> };

export type ApiEnvInput = Partial<Record<ApiEnvName, ApiEnvSource>>;

export interface ContainerEnv {
  readonly environment: { name: ApiEnvName; value: pulumi.Input<string> }[];
  readonly secrets: { name: ApiEnvName; valueFrom: pulumi.Input<string> }[];
}

export class ApiEnvError extends Error {
  override readonly name = 'ApiEnvError';
}

/** The Secrets Manager reference of one JSON key of a secret, in ECS's `valueFrom` syntax. */
export function secretKeyRef(secretArn: pulumi.Input<string>, key: string): pulumi.Output<string> | string {
  if (typeof secretArn === 'string') return `${secretArn}:${key}::`;
  return (secretArn as pulumi.Output<string>).apply((arn) => `${arn}:${key}::`);
}

/**
 * Splits the API's environment into ECS `environment` and `secrets`, following
 * packages/api/src/config-keys.ts: a variable the API treats as secret must come from a
 * secret store, and every variable the API needs to start must be present. Throws at
 * `pulumi preview` rather than letting a task crash-loop after deployment.
 */
export function apiContainerEnv(input: ApiEnvInput): ContainerEnv {
  const environment: ContainerEnv['environment'] = [];
  const secrets: ContainerEnv['secrets'] = [];
  for (const [name, source] of Object.entries(input) as [ApiEnvName, ApiEnvSource | undefined][]) {
    if (!source) continue;
    if (!(name in API_ENV)) throw new ApiEnvError(`${name} is not read by the API (packages/api/src/config-keys.ts)`);
    if ('valueFrom' in source) secrets.push({ name, valueFrom: source.valueFrom });
    else if (API_ENV[name].secret) throw new ApiEnvError(`${name} is secret: pass it as valueFrom (Secrets Manager), never as a plain value`);
    else environment.push({ name, value: source.value });
  }
  const missing = missingApiEnv(Object.keys(input).filter((k) => input[k as ApiEnvName] !== undefined));
  if (missing.length > 0) throw new ApiEnvError(`the API container lacks ${missing.join(', ')} (required by packages/api/src/config.ts)`);
  return { environment, secrets };
}

/**
 * The stack secrets the API reads at start, checked with the API's own rules before they are
 * stored, so a bad key fails `pulumi up` instead of crash-looping every task (exit 78).
 * Returns the problems, each naming the stack config key.
 */
export function apiKeyProblems(keys: { readonly region: string; readonly documentKey?: string; readonly blindIndexKey: string; readonly auditSigningKey: string; readonly dbAppPassword: string; readonly dbCacheStreamPassword: string }): string[] {
  const problems: string[] = [];
  if (keys.documentKey === undefined) problems.push(`atlas:documentKeys has no key for ${keys.region}`);
  else if (!/^[A-Za-z0-9+/]{43}=$/.test(keys.documentKey)) problems.push(`atlas:documentKeys.${keys.region} must be 32 bytes in base64`);
  if (keys.blindIndexKey.length < 16) problems.push('atlas:blindIndexKey must be at least 16 characters');
  let jwk: { kty?: unknown; crv?: unknown; x?: unknown; d?: unknown } | undefined;
  try {
    jwk = JSON.parse(keys.auditSigningKey) as typeof jwk;
  } catch {
    jwk = undefined;
  }
  const b64url = /^[A-Za-z0-9_-]{43}$/;
  if (jwk?.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || !b64url.test(jwk.x) || typeof jwk.d !== 'string' || !b64url.test(jwk.d)) {
    problems.push('atlas:auditSigningKey must be an Ed25519 private JWK as JSON (with "d")');
  }
  if (keys.dbAppPassword.length < 16) problems.push('atlas:dbAppPassword must be at least 16 characters');
  if (keys.dbCacheStreamPassword.length < 16) problems.push('atlas:dbCacheStreamPassword must be at least 16 characters');
  return problems;
}
