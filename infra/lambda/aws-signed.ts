/**
 * Minimal signed AWS calls for the orchestrator Lambda, on node:crypto and fetch alone, so
 * the bundle needs no SDK: Signature Version 4, the JSON protocol (DynamoDB) and the query
 * protocol (SNS, RDS). Credentials come from the Lambda environment.
 */
import { createHash, createHmac } from 'node:crypto';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AwsCallTarget {
  readonly region: string;
  readonly credentials: AwsCredentials;
  /** Replaces `https://<service>.<region>.amazonaws.com` (tests: a local server). */
  readonly endpoint?: (service: string) => string;
  readonly now?: () => Date;
}

export class AwsCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(`${code}: ${message}`);
    this.name = 'AwsCallError';
  }
}

const sha256 = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** The SigV4 headers for a request (header names lower-case). */
export function signRequest(input: {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly service: string;
  readonly region: string;
  readonly credentials: AwsCredentials;
  readonly date: Date;
  /** Adds and signs x-amz-content-sha256 (S3 requires it; other services accept it). */
  readonly contentSha256Header?: boolean;
}): Record<string, string> {
  const amzDate = input.date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v.trim();
  headers.host = input.url.host;
  headers['x-amz-date'] = amzDate;
  const payloadHash = sha256(input.body);
  if (input.contentSha256Header ?? true) headers['x-amz-content-sha256'] = payloadHash;
  if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const query = [...input.url.searchParams.entries()]
    .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)] as const)
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonical = [input.method, input.url.pathname || '/', query, ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), payloadHash].join('\n');
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${input.credentials.secretAccessKey}`, day), input.region), input.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

async function send(target: AwsCallTarget, service: string, headers: Record<string, string>, body: string): Promise<Response> {
  const url = new URL(target.endpoint?.(service) ?? `https://${service}.${target.region}.amazonaws.com/`);
  const signed = signRequest({ method: 'POST', url, headers, body, service, region: target.region, credentials: target.credentials, date: target.now?.() ?? new Date() });
  return fetch(url, { method: 'POST', headers: signed, body, signal: AbortSignal.timeout(10_000) });
}

/** An AWS JSON-protocol call (`X-Amz-Target: <prefix>.<operation>`). */
export async function awsJson<T>(target: AwsCallTarget, service: string, targetPrefix: string, version: '1.0' | '1.1', operation: string, body: unknown): Promise<T> {
  const res = await send(target, service, { 'content-type': `application/x-amz-json-${version}`, 'x-amz-target': `${targetPrefix}.${operation}` }, JSON.stringify(body));
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) throw new AwsCallError(String(parsed.__type ?? `HTTP${res.status}`).split('#').pop()!, String(parsed.message ?? parsed.Message ?? text), res.status);
  return parsed as T;
}

/** An AWS query-protocol call (form body, XML answer); returns the XML text. */
export async function awsQuery(target: AwsCallTarget, service: string, version: string, action: string, params: Readonly<Record<string, string>>): Promise<string> {
  const body = new URLSearchParams({ Action: action, Version: version, ...params }).toString();
  const res = await send(target, service, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body);
  const text = await res.text();
  if (!res.ok) throw new AwsCallError(/<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP${res.status}`, /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text, res.status);
  return text;
}

/** The Lambda runtime's credentials (its execution role), from the environment. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsCredentials {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) throw new Error('AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set (the Lambda runtime sets them)');
  return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
}
