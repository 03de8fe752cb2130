import { stopOnSignals } from '@atlas/core/process';
import { createDb } from '@atlas/db';
import { buildApp } from './app';
import { configFromEnv, ConfigError } from './config';

/** Entry point of one regional API process: config from the environment, graceful stop. */
async function main(): Promise<void> {
  let config;
  try {
    config = configFromEnv();
  } catch (err) {
    process.stderr.write(`atlas-api: ${(err as Error).message}\n`);
    process.exit(err instanceof ConfigError ? 78 : 1);
  }
  const db = createDb(config.databaseUrl, { applicationName: `atlas-api-${config.region.id}`, max: 20 });
  const app = await buildApp(config, db);
  stopOnSignals(
    async () => {
      await app.close();
      await db.destroy();
    },
    { name: 'atlas-api', onSignal: (signal) => app.log.info({ signal }, 'shutting down') },
  );
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    process.stderr.write(
      code === 'EADDRINUSE'
        ? `atlas-api: port ${config.port} (${config.region.id}) is already in use; stop whatever holds it or change apiPort in the topology\n`
        : `atlas-api: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`,
    );
    await db.destroy();
    process.exit(1);
  }
}

void main();
