import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
  /** x-amz-checksum-* headers sent with the PutObject, returned with GetObject as S3 does. */
  readonly checksums: Record<string, string>;
}

/** An injected failure: every request answers this until cleared. */
export interface S3Failure {
  readonly status: number;
  readonly code: string;
}

/**
 * A real HTTP server speaking the S3 REST protocol (path-style addressing) for what the API
 * uses: PutObject, GetObject (NoSuchKey on a missing key), HeadObject and DeleteObject, on the
 * buckets it was given, with AWS's XML error bodies. It refuses unsigned requests and requests
 * signed with another access key. Bound to 127.0.0.1 on a port the OS picks.
 */
export class S3TestServer {
  readonly requests: Array<{ method: string; path: string }> = [];
  private readonly buckets = new Map<string, Map<string, StoredObject>>();
  private failure: S3Failure | undefined;
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

  static async start(options: { buckets: readonly string[]; accessKeyId: string }): Promise<S3TestServer> {
    const s3 = new S3TestServer(options.accessKeyId);
    await new Promise<void>((resolve, reject) => {
      s3.server.once('error', reject);
      s3.server.listen(0, '127.0.0.1', () => resolve());
    });
    s3.endpointUrl = `http://127.0.0.1:${(s3.server.address() as AddressInfo).port}`;
    for (const b of options.buckets) s3.buckets.set(b, new Map());
    return s3;
  }

  /** http://127.0.0.1:<port>, for the client's endpoint with path-style addressing. */
  get endpoint(): string {
    return this.endpointUrl;
  }

  /** The stored bytes of an object, as S3 would hand them to anyone with read access. */
  object(bucket: string, key: string): Buffer | undefined {
    return this.buckets.get(bucket)?.get(key)?.body;
  }

  keys(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])].sort();
  }

  /** Every request fails with this status and S3 error code until `fail(undefined)`. */
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
    this.requests.push({ method: req.method ?? '', path: url.pathname });
    const [, bucketName = '', ...rest] = url.pathname.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const resource = `/${bucketName}/${key}`;

    const auth = req.headers.authorization ?? '';
    const credential = /^AWS4-HMAC-SHA256 Credential=([^/]+)\//.exec(auth)?.[1];
    if (credential !== this.accessKeyId) return this.error(res, 403, credential ? 'InvalidAccessKeyId' : 'AccessDenied', 'the request is not signed with a known access key', resource);
    if (this.failure) return this.error(res, this.failure.status, this.failure.code, 'injected failure', resource);
    const bucket = this.buckets.get(bucketName);
    if (!bucket) return this.error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', resource);
    if (!key) return this.error(res, 501, 'NotImplemented', 'bucket-level operations are not served', resource);

    switch (req.method) {
      case 'PUT': {
        const content = decodeContent(req, body);
        const etag = `"${createHash('md5').update(content).digest('hex')}"`;
        const checksums = Object.fromEntries(Object.entries(req.headers).filter(([h]) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-algorithm').map(([h, v]) => [h, String(v)]));
        bucket.set(key, { body: content, etag, checksums });
        res.writeHead(200, { etag, ...checksums, 'x-amz-request-id': randomUUID() }).end();
        return;
      }
      case 'GET':
      case 'HEAD': {
        const found = bucket.get(key);
        if (!found) {
          if (req.method === 'HEAD') return void res.writeHead(404).end();
          return this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.', resource);
        }
        const echo = req.headers['x-amz-checksum-mode'] === 'ENABLED' ? found.checksums : {};
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(found.body.length), etag: found.etag, ...echo });
        res.end(req.method === 'GET' ? found.body : undefined);
        return;
      }
      case 'DELETE':
        // S3 answers 204 whether or not the key existed.
        bucket.delete(key);
        res.writeHead(204).end();
        return;
      default:
        return this.error(res, 405, 'MethodNotAllowed', `${req.method} is not allowed here`, resource);
    }
  }

  private error(res: ServerResponse, status: number, code: string, message: string, resource: string): void {
    const requestId = randomUUID();
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Resource>${resource}</Resource><RequestId>${requestId}</RequestId></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': requestId }).end(xml);
  }
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
