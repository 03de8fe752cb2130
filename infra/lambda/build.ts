/**
 * Bundles the orchestrator Lambda into one ES module with esbuild:
 *   npx tsx infra/lambda/build.ts [outdir]        (default: dist/orchestrator)
 * The disaster-recovery component deploys that directory (atlas:orchestratorBundle) with
 * handler `index.handler`; the bundle needs nothing but Node 20's runtime.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const LAMBDA_ENTRY = fileURLToPath(new URL('./orchestrator.handler.ts', import.meta.url));
export const DEFAULT_BUNDLE_DIR = fileURLToPath(new URL('../../dist/orchestrator', import.meta.url));

export async function buildOrchestratorBundle(outdir: string = DEFAULT_BUNDLE_DIR): Promise<{ readonly file: string; readonly bytes: number }> {
  const file = resolve(outdir, 'index.mjs');
  const result = await build({
    entryPoints: [LAMBDA_ENTRY],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
  });
  return { file, bytes: result.metafile.outputs[Object.keys(result.metafile.outputs)[0]!]!.bytes };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildOrchestratorBundle(process.argv[2] ? resolve(process.argv[2]) : undefined);
  process.stdout.write(`${out.file} (${out.bytes} bytes)\n`);
}
