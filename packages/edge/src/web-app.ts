import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.svg', '.txt', '.map']);
/** Angular's output names carry a content hash (main-AB12CD34.js): cacheable for a year. */
const HASHED = /-[A-Z0-9]{8}\.(js|css)$/;

interface Body {
  readonly mtimeMs: number;
  readonly identity: Buffer;
  readonly br?: Buffer;
  readonly gzip?: Buffer;
}

/**
 * Serves the built web app (packages/web, `ng build`) from `root`: files as they are, any
 * other path without an extension as index.html (the app's router owns those URLs). Text
 * bodies are compressed once per file version and kept in memory: the app is a few hundred kB.
 */
export async function serveWebApp(app: FastifyInstance, root: string): Promise<void> {
  const base = resolve(root);
  const index = join(base, 'index.html');
  if (!(await stat(index).catch(() => null))?.isFile()) {
    throw new Error(`configuration: ATLAS_EDGE_WEB_ROOT: no index.html in ${base} (build the app with \`npm run build -w @atlas/web\`)`);
  }
  const cache = new Map<string, Body>();

  const load = async (file: string): Promise<Body | null> => {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return null;
    const known = cache.get(file);
    if (known && known.mtimeMs === info.mtimeMs) return known;
    const identity = await readFile(file);
    const compress = COMPRESSIBLE.has(extname(file)) && identity.length > 512;
    const body: Body = {
      mtimeMs: info.mtimeMs,
      identity,
      ...(compress
        ? {
            br: brotliCompressSync(identity, {
              params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: identity.length },
            }),
            gzip: gzipSync(identity, { level: 9 }),
          }
        : {}),
    };
    cache.set(file, body);
    return body;
  };

  const send = (request: FastifyRequest, reply: FastifyReply, file: string, body: Body) => {
    const ext = extname(file);
    const accepts = String(request.headers['accept-encoding'] ?? '');
    const encoding = body.br && /\bbr\b/.test(accepts) ? 'br' : body.gzip && /\bgzip\b/.test(accepts) ? 'gzip' : null;
    reply
      .header('content-type', TYPES[ext] ?? 'application/octet-stream')
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('vary', 'accept-encoding');
    if (ext === '.html') reply.header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
    if (encoding) reply.header('content-encoding', encoding);
    return reply.send(encoding === 'br' ? body.br : encoding === 'gzip' ? body.gzip : body.identity);
  };

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = (request.url.split(/[?#]/, 1)[0] ?? '/').replace(/^\/+/, '');
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return reply.code(400).send({ error: { code: 'ATLAS_ERR_VALIDATION', message: 'malformed URL encoding in the path' } });
    }
    const file = resolve(base, normalize(decoded));
    // Never outside the root, whatever ../ or encoded separators the path holds.
    if (file !== base && !file.startsWith(base + sep)) {
      return reply.code(404).send({ error: { code: 'ATLAS_ERR_NOT_FOUND', message: 'not found' } });
    }
    const found = file === base ? null : await load(file);
    if (found) return send(request, reply, file, found);
    if (extname(decoded) !== '') return reply.code(404).send({ error: { code: 'ATLAS_ERR_NOT_FOUND', message: `no file ${decoded}` } });
    const page = await load(index);
    if (!page) return reply.code(503).send({ error: { code: 'ATLAS_ERR_NOT_READY', message: 'the web app is not built' } });
    return send(request, reply, index, page);
  };

  app.get('/', handler);
  app.get('/*', handler);
}
