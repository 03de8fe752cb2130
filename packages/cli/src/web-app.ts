import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** packages/web, and where `ng build` puts the browser files the edge serves. */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
export const WEB_ROOT = join(WEB_DIR, 'dist', 'browser');

const INPUTS = ['src', 'angular.json', 'tsconfig.json', 'tsconfig.app.json', 'package.json'];
const BUILD_TIMEOUT_MS = 10 * 60_000;

async function newestMtime(path: string): Promise<number> {
  const info = await stat(path).catch(() => null);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(path)) newest = Math.max(newest, await newestMtime(join(path, entry)));
  return newest;
}

/** Why the built app must be (re)built, or null when it is up to date. */
export async function webBuildNeeded(webDir = WEB_DIR, root = join(webDir, 'dist', 'browser')): Promise<string | null> {
  const built = await stat(join(root, 'index.html')).catch(() => null);
  if (!built) return 'no build output yet';
  let sources = 0;
  for (const input of INPUTS) sources = Math.max(sources, await newestMtime(join(webDir, input)));
  return sources > built.mtimeMs ? 'sources changed since the last build' : null;
}

export type WebBuildResult =
  | { readonly status: 'up-to-date' | 'built'; readonly root: string; readonly ms: number }
  | { readonly status: 'failed'; readonly error: string };

/**
 * Builds the web app (`ng build`, production) when its output is missing or older than its
 * sources, relaying the builder's progress line by line. Reports rather than throws: a
 * cluster without its web app is still a working API.
 */
export async function ensureWebApp(log: (line: string) => void): Promise<WebBuildResult> {
  const started = Date.now();
  if ((await webBuildNeeded()) === null) return { status: 'up-to-date', root: WEB_ROOT, ms: 0 };
  // Several `atlas up` at once (test suites) build once: the others wait for that build.
  const lock = join(WEB_DIR, '.angular', 'build.lock');
  await mkdir(dirname(lock), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const holder = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => '0'));
      const alive =
        holder > 0 &&
        (() => {
          try {
            process.kill(holder, 0);
            return true;
          } catch {
            return false;
          }
        })();
      if (!alive && holder > 0) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > BUILD_TIMEOUT_MS) return { status: 'failed', error: `another build holds ${lock}` };
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await build(log, started);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function build(log: (line: string) => void, started: number): Promise<WebBuildResult> {
  const why = await webBuildNeeded();
  if (why === null) return { status: 'up-to-date', root: WEB_ROOT, ms: Date.now() - started };
  let ng: string;
  try {
    ng = join(dirname(createRequire(import.meta.url).resolve('@angular/cli/package.json')), 'bin', 'ng.js');
  } catch {
    return { status: 'failed', error: '@angular/cli is not installed (run npm install)' };
  }
  log(`web app: building (${why}); the first build takes a minute or two…`);
  const code = await new Promise<number | string>((resolve) => {
    const child = spawn(process.execPath, [ng, 'build'], {
      cwd: WEB_DIR,
      env: { ...process.env, NG_CLI_ANALYTICS: 'false', NG_FORCE_TTY: '0', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const relay = (chunk: Buffer) => {
      for (const line of chunk.toString().split(/\r?\n/)) if (line.trim() !== '') log(`  web: ${line.trimEnd()}`);
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    const ticker = setInterval(() => log(`  web: still building (${Math.round((Date.now() - started) / 1000)} s)…`), 15_000);
    const timeout = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
    child.once('error', (err) => resolve(err.message));
    child.once('exit', (exitCode, signal) => {
      clearInterval(ticker);
      clearTimeout(timeout);
      resolve(exitCode ?? `killed by ${signal}`);
    });
  });
  if (code !== 0) return { status: 'failed', error: `ng build ended with ${code}` };
  return { status: 'built', root: WEB_ROOT, ms: Date.now() - started };
}
