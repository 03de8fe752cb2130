/**
 * What `atlas deploy` needs from the outside world, as narrow interfaces. Real adapters wrap
 * docker and the AWS SDK; tests pass fakes. Every method may throw: the runner turns a throw
 * into a failed step, never into a crash.
 */

export interface ImageBuilder {
  /** Builds infra/docker/api.Dockerfile; returns a local image reference. */
  build(input: { readonly dockerfile: string; readonly context: string; readonly tag: string }): Promise<{ readonly localImage: string }>;
}

export interface RegistryClient {
  /** Pushes the local image to the region's ECR repository; returns the pushed reference. */
  push(region: string, localImage: string, tag: string): Promise<{ readonly imageUri: string }>;
}

export interface MigrationRunner {
  /** Runs the image's migration command as a one-off task in the region; expand-only migrations. */
  migrate(region: string, imageUri: string): Promise<{ readonly detail: string }>;
}

export interface ServiceClient {
  /** The image the region's service runs now; recorded before the update for rollback. */
  currentImage(region: string): Promise<string>;
  /** Registers a task definition revision with the image and waits until the service is stable. */
  deploy(region: string, imageUri: string): Promise<void>;
}

export interface HealthProbe {
  /** One health check of the region's public endpoint; true when it answered healthy. */
  check(region: string): Promise<boolean>;
}

export interface OrchestratorClient {
  /** Runs the failover orchestrator once (one tick); returns each watched region's phase. */
  tick(): Promise<Readonly<Record<string, string>>>;
}

export interface DeployClients {
  readonly images: ImageBuilder;
  readonly registry: RegistryClient;
  readonly migrations: MigrationRunner;
  readonly services: ServiceClient;
  readonly health: HealthProbe;
  /** Needed only for the `orchestrator` step (DeployOptions.orchestratorCheck). */
  readonly orchestrator?: OrchestratorClient;
  /** Injected so tests run health verification without real waiting. */
  readonly sleep: (ms: number) => Promise<void>;
}
