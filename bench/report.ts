import { cpus, totalmem, loadavg } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const BENCHMARKS_FILE = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));

export function machineDescription(): string {
  const cpu = cpus();
  return [
    `- date: ${new Date().toISOString()}`,
    `- cpu: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length}`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- node: ${process.version}, ${process.platform}-${process.arch}`,
    `- load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  ].join('\n');
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');

/**
 * Replaces (or appends) the section `## <title>` of docs/benchmarks.md, so each benchmark
 * can be re-run alone without losing the others' figures.
 */
export async function writeSection(title: string, body: string): Promise<void> {
  let text = await readFile(BENCHMARKS_FILE, 'utf8').catch(
    () => '# Benchmarks\n\nWritten by `npm run bench` (all) or `npm run bench -- <name>`. Ratios compare figures measured in the same run: this machine is shared and noisy.\n',
  );
  const header = `## ${title}`;
  const section = `${header}\n\n${body.trim()}\n`;
  const start = text.indexOf(`${header}\n`);
  if (start === -1) {
    text = `${text.trimEnd()}\n\n${section}`;
  } else {
    const next = text.indexOf('\n## ', start + header.length);
    text = `${text.slice(0, start)}${section}${next === -1 ? '' : text.slice(next)}`;
  }
  await writeFile(BENCHMARKS_FILE, `${text.trimEnd()}\n`);
}
