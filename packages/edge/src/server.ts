import { stopOnSignals } from '@atlas/core/process';
import { buildEdge } from './app';
import { EdgeConfigError, edgeConfigFromEnv } from './config';
import { serveWebApp } from './web-app';

/** Entry point of the edge router process: config from the environment, graceful stop. */
async function main(): Promise<void> {
  let config;
  try {
    config = edgeConfigFromEnv();
  } catch (err) {
    process.stderr.write(`atlas-edge: ${(err as Error).message}\n`);
    process.exit(err instanceof EdgeConfigError ? 78 : 1);
  }
  // The web app is served when ATLAS_EDGE_WEB_ROOT names its build output (`atlas up` sets it).
  const app = await buildEdge(config, { webApp: serveWebApp });
  stopOnSignals(() => app.close(), { name: 'atlas-edge', onSignal: (signal) => app.log.info({ signal }, 'shutting down') });
  try {
    await app.listen({ host: config.host, port: config.port });
    app.log.info({ upstreams: config.upstreams, health: config.health }, `edge router on http://${config.host}:${config.port}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    process.stderr.write(
      code === 'EADDRINUSE'
        ? `atlas-edge: port ${config.port} is already in use; stop whatever holds it or set ATLAS_EDGE_PORT\n`
        : `atlas-edge: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`,
    );
    process.exit(1);
  }
}

void main();
