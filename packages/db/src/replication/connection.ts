import pg from 'pg';

/** The parts of a PostgreSQL connection that replication set-up needs. */
export interface PgEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export function endpointFromUrl(url: string): PgEndpoint {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
  };
}

export function endpointToUrl(e: PgEndpoint): string {
  return `postgres://${encodeURIComponent(e.user)}:${encodeURIComponent(e.password)}@${e.host}:${e.port}/${encodeURIComponent(e.database)}`;
}

const quote = (value: string): string => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** A libpq keyword/value connection string, as CREATE SUBSCRIPTION … CONNECTION takes. */
export function toConninfo(e: PgEndpoint, extra: Readonly<Record<string, string>> = {}): string {
  const pairs: Record<string, string> = {
    host: e.host,
    port: String(e.port),
    dbname: e.database,
    user: e.user,
    password: e.password,
    connect_timeout: '5',
    ...extra,
  };
  return Object.entries(pairs)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(' ');
}

/** Parses a keyword/value connection string (the form stored in pg_subscription.subconninfo). */
export function parseConninfo(conninfo: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([a-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(conninfo)) !== null) {
    out[m[1]!] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  }
  return out;
}

export function endpointFromConninfo(conninfo: string): PgEndpoint {
  const c = parseConninfo(conninfo);
  return {
    host: c.host ?? c.hostaddr ?? '127.0.0.1',
    port: Number(c.port ?? 5432),
    user: c.user ?? 'postgres',
    password: c.password ?? '',
    database: c.dbname ?? 'postgres',
  };
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>, applicationName = 'atlas-replication'): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
