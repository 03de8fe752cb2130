import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FORWARDER_PORT_OFFSET, STANDBY_PORT_OFFSET } from '@atlas/db';
import { freeDbPort } from './free-port';

/** The repository's root and the CLI's entry point, for suites that run `atlas` as a process. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'packages/cli/src/main.ts');

/** `atlas <args>` as a child process, its stdout and stderr collected. */
export function atlas(args: string[], env: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return Object.assign(child, { output: () => out });
}

/** The child's exit code; after `timeoutMs` it is killed and null is returned. */
export const exited = (child: ChildProcess, timeoutMs = 60_000): Promise<number | null> =>
  child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(null);
        }, timeoutMs);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });

/** A region's database port whose standby and forwarder ports are free and claimed too. */
export const regionDbPort = (): Promise<number> => freeDbPort([STANDBY_PORT_OFFSET, FORWARDER_PORT_OFFSET]);
