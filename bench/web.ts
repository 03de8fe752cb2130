import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { serveWebApp } from '../packages/edge/src/index';
import { ensureWebApp } from '../packages/cli/src/web-app';
import { CHROMIUM, launchChromium } from '../test/support/chromium';
import { machineDescription, ms, percentile } from './report';

const RUNS = Number(process.env.BENCH_WEB_RUNS ?? 10);
/** The goal for the initial JavaScript, compressed. */
const GOAL_BYTES = 250 * 1024;

interface Asset {
  readonly file: string;
  readonly raw: number;
  readonly gzip: number;
  readonly brotli: number;
}

/** The initial JavaScript: what index.html loads (module scripts and modulepreloads), not lazy routes. */
async function initialScripts(root: string): Promise<Asset[]> {
  const html = await readFile(join(root, 'index.html'), 'utf8');
  const files = new Set<string>();
  for (const m of html.matchAll(/<script[^>]+src="([^"]+\.js)"/g)) files.add(m[1]!);
  for (const m of html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g)) files.add(m[1]!);
  for (const m of html.matchAll(/<link[^>]+href="([^"]+\.js)"[^>]+rel="modulepreload"/g)) files.add(m[1]!);
  return Promise.all(
    [...files].map(async (file) => {
      const body = await readFile(join(root, file));
      return {
        file,
        raw: body.length,
        gzip: gzipSync(body, { level: 9 }).length,
        brotli: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
      };
    }),
  );
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;

/**
 * The web app (issue 6): initial JS bundle size, raw and compressed, against the 250 kB goal,
 * and time to first render in Debian's Chromium from a cold cache, the files served by the
 * edge's own web-app handler on loopback (the API answers 503: the shell must render anyway).
 */
export async function runWebBench(log: (line: string) => void = console.log): Promise<{ markdown: string }> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}`);
  const build = await ensureWebApp(log);
  if (build.status === 'failed') throw new Error(`web app build failed: ${build.error}`);
  const assets = await initialScripts(build.root);
  const total = assets.reduce((a, x) => ({ raw: a.raw + x.raw, gzip: a.gzip + x.gzip, brotli: a.brotli + x.brotli }), {
    raw: 0,
    gzip: 0,
    brotli: 0,
  });

  const server = Fastify({ logger: false });
  server.all('/api/*', async (_req, reply) =>
    reply.code(503).send({ error: { code: 'ATLAS_ERR_REGION_UNAVAILABLE', message: 'no API in this benchmark' } }),
  );
  await serveWebApp(server, build.root);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/`;

  const browser = await launchChromium();
  const fcp: number[] = [];
  const render: number[] = [];
  const dcl: number[] = [];
  const transferred: number[] = [];
  try {
    for (let i = 0; i < RUNS + 1; i++) {
      // A new context per run: cold HTTP cache, no storage.
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      // Browser-side code as strings: this file is type-checked without the DOM library.
      await context.addInitScript({
        content: `new MutationObserver((_m, observer) => {
          if (document.querySelector('atlas-root h1')) { window.__rendered = performance.now(); observer.disconnect(); }
        }).observe(document, { childList: true, subtree: true });`,
      });
      const page = await context.newPage();
      let bytes = 0;
      // A response may still be read when the context closes: its size is then simply not counted.
      page.on(
        'response',
        (res) =>
          void res
            .headerValue('content-length')
            .then((v) => (bytes += Number(v ?? 0)))
            .catch(() => undefined),
      );
      await page.goto(url, { waitUntil: 'load' });
      await page.waitForFunction('window.__rendered !== undefined', undefined, { timeout: 15_000 });
      const t = (await page.evaluate(`({
        rendered: window.__rendered,
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
        dcl: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? NaN,
      })`)) as { rendered: number; fcp: number; dcl: number };
      await context.close();
      if (i === 0) continue; // warm-up: the server compresses each file on its first request
      render.push(t.rendered);
      fcp.push(t.fcp);
      dcl.push(t.dcl);
      transferred.push(bytes);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const row = (name: string, xs: number[]) =>
    `| ${name} | ${ms(percentile(sorted(xs), 50))} | ${ms(percentile(sorted(xs), 95))} | ${ms(Math.min(...xs))} |`;
  const within = total.brotli <= GOAL_BYTES && total.gzip <= GOAL_BYTES;
  log(
    `initial JS: ${kb(total.raw)} raw, ${kb(total.gzip)} gzip, ${kb(total.brotli)} brotli; first render p50 ${ms(percentile(sorted(render), 50))} ms`,
  );

  const markdown = [
    machineDescription(),
    `- Chromium: ${CHROMIUM}, headless; ${RUNS} cold loads (new browser context each, after one warm-up load)`,
    '',
    'Production build (`ng build`): Angular 21, standalone components, zoneless, every screen but the shell lazy-loaded.',
    '',
    '### Initial JavaScript (what index.html loads)',
    '',
    '| file | raw | gzip -9 | brotli q11 |',
    '|---|---|---|---|',
    ...assets.map((a) => `| ${a.file} | ${kb(a.raw)} | ${kb(a.gzip)} | ${kb(a.brotli)} |`),
    `| **total** | **${kb(total.raw)}** | **${kb(total.gzip)}** | **${kb(total.brotli)}** |`,
    '',
    `Goal ≤ 250 kB compressed: ${within ? 'met' : 'NOT met'} — gzip is ${((total.gzip / GOAL_BYTES) * 100).toFixed(0)} % of the budget, brotli ${((total.brotli / GOAL_BYTES) * 100).toFixed(0)} %; brotli/raw = ${(total.brotli / total.raw).toFixed(3)}, gzip/raw = ${(total.gzip / total.raw).toFixed(3)}.`,
    '',
    '### Time to first render (ms from navigation start, loopback, served by the edge handler with brotli)',
    '',
    '| measure | p50 | p95 | best |',
    '|---|---|---|---|',
    row('first contentful paint (the static "Loading Atlas…")', fcp),
    row('DOMContentLoaded', dcl),
    row('app rendered (first screen heading in the DOM)', render),
    '',
    `Bytes on the wire per cold load (all responses, compressed): p50 ${kb(percentile(sorted(transferred), 50))}.`,
  ].join('\n');
  return { markdown };
}
