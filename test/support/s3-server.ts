import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredVersion {
  /** "null" in a bucket without versioning, as on S3. */
  readonly versionId: string;
  /** What a DeleteObject without a version id leaves in a versioned bucket: no body. */
  readonly deleteMarker: boolean;
  readonly body: Buffer;
  readonly etag: string;
  /** x-amz-checksum-* headers sent with the PutObject, returned with GetObject as S3 does. */
  readonly checksums: Record<string, string>;
  readonly lastModified: Date;
}

interface StoredBucket {
  readonly versioned: boolean;
  /** Per key, its versions and delete markers, oldest first: the last one is current. */
  readonly objects: Map<string, StoredVersion[]>;
}

/** One version or delete marker of a key, newest first, as ListObjectVersions reports it. */
export interface ObjectVersion {
  readonly versionId: string;
  readonly deleteMarker: boolean;
  readonly isLatest: boolean;
}

/** An injected failure: every request (or those matching method and key prefix) answers this until cleared. */
export interface S3Failure {
  readonly status: number;
  readonly code: string;
  /** Only requests of this method (PUT, GET, DELETE, …). */
  readonly method?: string;
  /** Only requests for keys starting with this. */
  readonly keyPrefix?: string;
  /** Only requests naming this version (`?versionId=`). */
  readonly versionId?: string;
}

/**
 * A real HTTP server speaking the S3 REST protocol (path-style addressing) for what Atlas
 * uses: PutObject (conditional with If-None-Match: *), GetObject (NoSuchKey on a missing
 * key), HeadObject, DeleteObject and ListObjectsV2 (prefix, max-keys, continuation tokens),
 * on the buckets it was given, with AWS's XML error bodies. It refuses unsigned requests and
 * requests signed with another access key. Bound to 127.0.0.1 on a port the OS picks.
 *
 * Buckets are versioned, as the AWS documents bucket is (those listed in `unversioned` are
 * not): a PutObject adds a version (x-amz-version-id), a DeleteObject without a version id
 * adds a delete marker, GetObject/HeadObject/DeleteObject take `versionId`, and
 * ListObjectVersions (`?versions`: prefix, max-keys, key-marker and version-id-marker paging)
 * lists versions and delete markers, keys in order and each key's newest first. A bucket
 * without versioning keeps one version per key with the id "null".
 */
export class S3TestServer {
  /** Every request: method, path, and the query string (`?versions…`, `?list-type=2…`, `?versionId=…`, or ''). */
  readonly requests: Array<{ method: string; path: string; query: string }> = [];
  private readonly buckets = new Map<string, StoredBucket>();
  private failure: S3Failure | undefined;
  private readonly replications: Array<{ from: string; to: string; rename: (key: string) => string }> = [];
  private readonly server: Server;
  private endpointUrl = '';

  private constructor(readonly accessKeyId: string) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.error(res, 500, 'InternalError', (err as Error).message, '');
        else res.destroy();
      });
    });
  }

  static async start(options: { buckets: readonly string[]; accessKeyId: string; unversioned?: readonly string[] }): Promise<S3TestServer> {
    const s3 = new S3TestServer(options.accessKeyId);
    await new Promise<void>((resolve, reject) => {
      s3.server.once('error', reject);
      s3.server.listen(0, '127.0.0.1', () => resolve());
    });
    s3.endpointUrl = `http://127.0.0.1:${(s3.server.address() as AddressInfo).port}`;
    for (const b of options.buckets) s3.buckets.set(b, { versioned: !options.unversioned?.includes(b), objects: new Map() });
    return s3;
  }

  /** http://127.0.0.1:<port>, for the client's endpoint with path-style addressing. */
  get endpoint(): string {
    return this.endpointUrl;
  }

  /** The stored bytes of an object, as S3 would hand them to anyone with read access. */
  object(bucket: string, key: string): Buffer | undefined {
    return current(this.buckets.get(bucket), key)?.body;
  }

  /** The keys a ListObjectsV2 shows: those whose current version is an object, not a delete marker. */
  keys(bucket: string): string[] {
    const b = this.buckets.get(bucket);
    return [...(b?.objects.keys() ?? [])].filter((k) => current(b, k) !== undefined).sort();
  }

  /** Every version and delete marker of a key, newest first (what anyone with s3:GetObjectVersion could restore). */
  versions(bucket: string, key: string): ObjectVersion[] {
    const all = this.buckets.get(bucket)?.objects.get(key) ?? [];
    return all.map((v, i) => ({ versionId: v.versionId, deleteMarker: v.deleteMarker, isLatest: i === all.length - 1 })).reverse();
  }

  /** The bytes of one version of a key (undefined for a delete marker or an unknown id). */
  versionBody(bucket: string, key: string, versionId: string): Buffer | undefined {
    const found = this.buckets.get(bucket)?.objects.get(key)?.find((v) => v.versionId === versionId);
    return found && !found.deleteMarker ? found.body : undefined;
  }

  /**
   * Stores an object as a writer with bucket access would (a replication job, an operator's
   * copy), without going through the protocol: a new version in a versioned bucket.
   */
  put(bucket: string, key: string, body: Buffer): void {
    const target = this.buckets.get(bucket);
    if (!target) throw new Error(`no bucket ${bucket}`);
    this.addVersion(target, key, { body, etag: `"${createHash('md5').update(body).digest('hex')}"`, checksums: {}, deleteMarker: false });
  }

  /** Deletes an object as a writer with bucket access would: a delete marker in a versioned bucket. */
  remove(bucket: string, key: string): void {
    const target = this.buckets.get(bucket);
    if (target) this.deleteCurrent(target, key);
  }

  /**
   * Like an S3 replication rule: every later PutObject in `from` is copied to `to` under
   * `rename(key)`, until the returned function removes the rule.
   */
  replicate(from: string, to: string, rename: (key: string) => string = (key) => key): () => void {
    const rule = { from, to, rename };
    this.replications.push(rule);
    return () => {
      const at = this.replications.indexOf(rule);
      if (at >= 0) this.replications.splice(at, 1);
    };
  }

  /** Every request (or those the failure selects) fails with its status and S3 error code until `fail(undefined)`. */
  fail(failure: S3Failure | undefined): void {
    this.failure = failure;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.endpoint);
    const body = await readBody(req);
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.search });
    const [, bucketName = '', ...rest] = url.pathname.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const resource = `/${bucketName}/${key}`;

    const auth = req.headers.authorization ?? '';
    const credential = /^AWS4-HMAC-SHA256 Credential=([^/]+)\//.exec(auth)?.[1];
    if (credential !== this.accessKeyId) return this.error(res, 403, credential ? 'InvalidAccessKeyId' : 'AccessDenied', 'the request is not signed with a known access key', resource);
    const f = this.failure;
    if (f && (f.method === undefined || f.method === req.method) && (f.keyPrefix === undefined || key.startsWith(f.keyPrefix)) && (f.versionId === undefined || f.versionId === url.searchParams.get('versionId'))) {
      return this.error(res, f.status, f.code, 'injected failure', resource);
    }
    const bucket = this.buckets.get(bucketName);
    if (!bucket) return this.error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', resource);
    if (!key) {
      if (req.method === 'GET' && url.searchParams.get('list-type') === '2') return this.list(res, bucketName, bucket, url.searchParams);
      if (req.method === 'GET' && url.searchParams.has('versions')) return this.listVersions(res, bucketName, bucket, url.searchParams);
      return this.error(res, 501, 'NotImplemented', 'bucket-level operations other than ListObjectsV2 and ListObjectVersions are not served', resource);
    }
    const versionId = url.searchParams.get('versionId') ?? undefined;

    switch (req.method) {
      case 'PUT': {
        // A conditional write (If-None-Match: *) never replaces an existing object, as on S3.
        if (req.headers['if-none-match'] === '*' && current(bucket, key)) return this.error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', resource);
        const content = decodeContent(req, body);
        const etag = `"${createHash('md5').update(content).digest('hex')}"`;
        const checksums = Object.fromEntries(Object.entries(req.headers).filter(([h]) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-algorithm').map(([h, v]) => [h, String(v)]));
        const stored = this.addVersion(bucket, key, { body: content, etag, checksums, deleteMarker: false });
        for (const rule of this.replications.filter((r) => r.from === bucketName)) this.put(rule.to, rule.rename(key), content);
        res.writeHead(200, { etag, ...checksums, ...versionHeader(bucket, stored), 'x-amz-request-id': randomUUID() }).end();
        return;
      }
      case 'GET':
      case 'HEAD': {
        const versions = bucket.objects.get(key) ?? [];
        const found = versionId === undefined ? versions.at(-1) : versions.find((v) => v.versionId === versionId);
        if (!found) {
          if (req.method === 'HEAD') return void res.writeHead(404).end();
          if (versionId !== undefined) return this.error(res, 404, 'NoSuchVersion', 'The specified version does not exist.', resource);
          return this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.', resource);
        }
        if (found.deleteMarker) {
          // S3: the current version being a delete marker reads as a missing key; asking for the marker itself is a 405.
          const marker = { 'x-amz-delete-marker': 'true', ...versionHeader(bucket, found) };
          if (req.method === 'HEAD') return void res.writeHead(versionId === undefined ? 404 : 405, marker).end();
          if (versionId === undefined) return this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.', resource, marker);
          return this.error(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', resource, marker);
        }
        const echo = req.headers['x-amz-checksum-mode'] === 'ENABLED' ? found.checksums : {};
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(found.body.length), etag: found.etag, ...versionHeader(bucket, found), ...echo });
        res.end(req.method === 'GET' ? found.body : undefined);
        return;
      }
      case 'DELETE': {
        // S3 answers 204 whether or not the key (or the version) existed.
        if (versionId === undefined) {
          const marker = this.deleteCurrent(bucket, key);
          return void res.writeHead(204, marker ? { 'x-amz-delete-marker': 'true', ...versionHeader(bucket, marker) } : {}).end();
        }
        const versions = bucket.objects.get(key) ?? [];
        const at = versions.findIndex((v) => v.versionId === versionId);
        const gone = at >= 0 ? versions.splice(at, 1)[0] : undefined;
        if (versions.length === 0) bucket.objects.delete(key);
        res.writeHead(204, { 'x-amz-version-id': versionId, ...(gone?.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}) }).end();
        return;
      }
      default:
        return this.error(res, 405, 'MethodNotAllowed', `${req.method} is not allowed here`, resource);
    }
  }

  /** A new current version of `key` (in a bucket without versioning: the only one, id "null"). */
  private addVersion(bucket: StoredBucket, key: string, version: Omit<StoredVersion, 'versionId' | 'lastModified'>): StoredVersion {
    const stored: StoredVersion = { ...version, versionId: bucket.versioned ? randomBytes(16).toString('base64url') : 'null', lastModified: new Date() };
    const versions = bucket.objects.get(key) ?? [];
    bucket.objects.set(key, bucket.versioned ? [...versions, stored] : [stored]);
    return stored;
  }

  /** DeleteObject without a version id: a delete marker in a versioned bucket (returned), the object gone otherwise. */
  private deleteCurrent(bucket: StoredBucket, key: string): StoredVersion | undefined {
    if (!bucket.versioned) {
      bucket.objects.delete(key);
      return undefined;
    }
    return this.addVersion(bucket, key, { body: Buffer.alloc(0), etag: '', checksums: {}, deleteMarker: true });
  }

  /**
   * ListObjectVersions: keys in order, each key's versions and delete markers newest first,
   * `max-keys` entries (1000 at most) per page, resumed after `key-marker` + `version-id-marker`
   * (after every version of `key-marker` when no version id is given).
   */
  private listVersions(res: ServerResponse, name: string, bucket: StoredBucket, query: URLSearchParams): void {
    const prefix = query.get('prefix') ?? '';
    const maxKeys = Math.min(1000, Math.max(0, Number(query.get('max-keys') ?? 1000) || 0));
    const keyMarker = query.get('key-marker') ?? '';
    const versionIdMarker = query.get('version-id-marker') ?? '';
    const urlEncode = query.get('encoding-type') === 'url';
    const entries = [...bucket.objects.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort()
      .flatMap((k) => {
        const versions = bucket.objects.get(k)!;
        return versions.map((v, i) => ({ key: k, version: v, isLatest: i === versions.length - 1 })).reverse();
      });
    let start = 0;
    if (keyMarker) {
      const marked = versionIdMarker ? entries.findIndex((e) => e.key === keyMarker && e.version.versionId === versionIdMarker) : -1;
      start = marked >= 0 ? marked + 1 : entries.findIndex((e) => e.key > keyMarker);
      if (start < 0) start = entries.length;
    }
    const page = entries.slice(start, start + maxKeys);
    const truncated = start + page.length < entries.length;
    const text = (k: string) => xmlEscape(urlEncode ? encodeURIComponent(k).replaceAll('%2F', '/') : k);
    const items = page.map(({ key, version: v, isLatest }) => {
      const common = `<Key>${text(key)}</Key><VersionId>${xmlEscape(v.versionId)}</VersionId><IsLatest>${isLatest}</IsLatest><LastModified>${v.lastModified.toISOString()}</LastModified>`;
      return v.deleteMarker ? `<DeleteMarker>${common}</DeleteMarker>` : `<Version>${common}<ETag>${xmlEscape(v.etag)}</ETag><Size>${v.body.length}</Size><StorageClass>STANDARD</StorageClass></Version>`;
    });
    const last = page.at(-1);
    const next = truncated && last ? `<NextKeyMarker>${text(last.key)}</NextKeyMarker><NextVersionIdMarker>${xmlEscape(last.version.versionId)}</NextVersionIdMarker>` : '';
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Name>${xmlEscape(name)}</Name><Prefix>${text(prefix)}</Prefix><KeyMarker>${text(keyMarker)}</KeyMarker><VersionIdMarker>${xmlEscape(versionIdMarker)}</VersionIdMarker>` +
      `<MaxKeys>${maxKeys}</MaxKeys>${urlEncode ? '<EncodingType>url</EncodingType>' : ''}<IsTruncated>${truncated}</IsTruncated>${next}${items.join('')}</ListVersionsResult>`;
    res.writeHead(200, { 'content-type': 'application/xml', 'x-amz-request-id': randomUUID() }).end(xml);
  }

  /** ListObjectsV2: keys in order, `max-keys` (1000 at most) per page, the next key as the continuation token. */
  private list(res: ServerResponse, name: string, bucket: StoredBucket, query: URLSearchParams): void {
    const prefix = query.get('prefix') ?? '';
    const maxKeys = Math.min(1000, Math.max(0, Number(query.get('max-keys') ?? 1000) || 0));
    const after = query.get('continuation-token') ? Buffer.from(query.get('continuation-token')!, 'base64url').toString() : (query.get('start-after') ?? '');
    const urlEncode = query.get('encoding-type') === 'url';
    const keys = [...bucket.objects.keys()].filter((k) => k.startsWith(prefix) && k > after && current(bucket, k)).sort();
    const pageKeys = keys.slice(0, maxKeys);
    const truncated = keys.length > pageKeys.length;
    const text = (k: string) => xmlEscape(urlEncode ? encodeURIComponent(k).replaceAll('%2F', '/') : k);
    const contents = pageKeys.map((k) => {
      const o = current(bucket, k)!;
      return `<Contents><Key>${text(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    });
    const next = truncated ? `<NextContinuationToken>${Buffer.from(pageKeys.at(-1)!).toString('base64url')}</NextContinuationToken>` : '';
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Name>${xmlEscape(name)}</Name><Prefix>${text(prefix)}</Prefix><KeyCount>${pageKeys.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
      `${urlEncode ? '<EncodingType>url</EncodingType>' : ''}<IsTruncated>${truncated}</IsTruncated>${contents.join('')}${next}</ListBucketResult>`;
    res.writeHead(200, { 'content-type': 'application/xml', 'x-amz-request-id': randomUUID() }).end(xml);
  }

  private error(res: ServerResponse, status: number, code: string, message: string, resource: string, headers: Record<string, string> = {}): void {
    const requestId = randomUUID();
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Resource>${resource}</Resource><RequestId>${requestId}</RequestId></Error>`;
    res.writeHead(status, { ...headers, 'content-type': 'application/xml', 'x-amz-request-id': requestId }).end(xml);
  }
}

/** The current version of a key when it is an object (not a delete marker). */
function current(bucket: StoredBucket | undefined, key: string): StoredVersion | undefined {
  const latest = bucket?.objects.get(key)?.at(-1);
  return latest && !latest.deleteMarker ? latest : undefined;
}

/** S3 names the version it stored or served, in a versioned bucket only. */
function versionHeader(bucket: StoredBucket, version: StoredVersion): Record<string, string> {
  return bucket.versioned ? { 'x-amz-version-id': version.versionId } : {};
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The object bytes of a PutObject: the body itself, or the data of an aws-chunked upload. */
function decodeContent(req: IncomingMessage, body: Buffer): Buffer {
  if (!/aws-chunked/.test(String(req.headers['content-encoding'] ?? ''))) return body;
  // <hex size>[;chunk-signature=…]\r\n<data>\r\n … 0\r\n<trailers>\r\n\r\n
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) throw new Error('malformed aws-chunked body');
    const size = Number.parseInt(body.subarray(at, eol).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size)) throw new Error('malformed aws-chunked body');
    if (size === 0) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Points the AWS SDK's default credential chain at the test server's key (in ECS the task role
 * stands in) and returns what puts the process's environment back as it was.
 */
export function useTestCredentials(accessKeyId: string): () => void {
  const names = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
  process.env.AWS_ACCESS_KEY_ID = accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = 'atlas-test-secret-key-not-for-aws';
  delete process.env.AWS_SESSION_TOKEN;
  return () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}
