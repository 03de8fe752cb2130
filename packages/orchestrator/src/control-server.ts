import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Orchestrator } from './daemon';
import { renderMetrics } from './metrics';

export interface ControlServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The orchestrator's local control port (127.0.0.1 only), used by `atlas failover` and
 * `atlas chaos`:
 *   GET  /status                              → OrchestratorStatus
 *   GET  /metrics                             → Prometheus text (ORCHESTRATOR_METRIC_NAMES)
 *   POST /regions/<region>/switchover         → SwitchoverResult (200 when ok, 409 when refused or failed)
 *   POST /chaos/<kill-region|revive|kill-db>/<region> → ChaosResult
 * Unknown region → 404; every body is JSON.
 */
export async function startControlServer(orchestrator: Orchestrator, port: number): Promise<ControlServer> {
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(body, null, 2)}\n`);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.split('/').filter(Boolean);
    const known = (region: string | undefined): region is string => region !== undefined && orchestrator.runners.has(region);
    if (req.method === 'GET' && path.join('/') === 'status') return send(res, 200, orchestrator.status());
    if (req.method === 'GET' && path.join('/') === 'metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return res.end(renderMetrics(orchestrator));
    }
    if (req.method === 'POST' && path[0] === 'regions' && path[2] === 'switchover' && path.length === 3) {
      if (!known(path[1])) return send(res, 404, { error: `unknown region ${path[1]}` });
      const result = await orchestrator.plannedSwitchover(path[1]);
      return send(res, result.ok ? 200 : 409, result);
    }
    if (req.method === 'POST' && path[0] === 'chaos' && path.length === 3) {
      const [, action, region] = path;
      if (!known(region)) return send(res, 404, { error: `unknown region ${region}` });
      if (action === 'kill-region') return send(res, 200, await orchestrator.killRegion(region));
      if (action === 'revive') return send(res, 200, await orchestrator.revive(region));
      if (action === 'kill-db') return send(res, 200, await orchestrator.killDb(region));
    }
    return send(res, 404, { error: `no route ${req.method} ${req.url}` });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, { error: err.message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
