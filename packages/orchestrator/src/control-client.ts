import { readFile } from 'node:fs/promises';
import { orchestratorStateFile } from './daemon';

/** Default control port of `atlas up`'s orchestrator (ATLAS_ORCHESTRATOR_PORT overrides). */
export const DEFAULT_CONTROL_PORT = 8099;

/** The running orchestrator's control URL: ATLAS_ORCHESTRATOR_URL, else ATLAS_HOME/orchestrator.json, else the default port. */
export async function controlUrl(home: string): Promise<string> {
  if (process.env.ATLAS_ORCHESTRATOR_URL) return process.env.ATLAS_ORCHESTRATOR_URL;
  try {
    const state = JSON.parse(await readFile(orchestratorStateFile(home), 'utf8')) as { controlUrl?: string };
    if (state.controlUrl) return state.controlUrl;
  } catch {
    // not written: fall back to the default port
  }
  return `http://127.0.0.1:${process.env.ATLAS_ORCHESTRATOR_PORT ?? DEFAULT_CONTROL_PORT}`;
}

export interface ControlResponse<T> {
  readonly status: number;
  readonly body: T;
}

/** One call to the control port; a connection error says the orchestrator is not running. */
export async function callControl<T>(baseUrl: string, method: 'GET' | 'POST', path: string, timeoutMs = 60_000): Promise<ControlResponse<T>> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}${path}`, { method, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`the failover orchestrator does not answer on ${baseUrl} (is \`atlas up\` running?): ${(err as Error).message}`);
  }
  return { status: res.status, body: (await res.json()) as T };
}
