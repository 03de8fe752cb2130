export type { DeployClients, OrchestratorClient, HealthProbe, ImageBuilder, MigrationRunner, RegistryClient, ServiceClient } from './deploy.clients';
export { DeployPlanError, formatPlan, planDeploy, type DeployOptions, type DeployPlan, type DeployStep, type StepKind } from './deploy.planner';
export { runDeploy, type DeployReport, type StepResult, type StepStatus } from './deploy.runner';
export { awsDeployClients, buildArgs, DockerImageBuilder, DockerMissingError, EcrRegistry, EcsServices, HttpHealthProbe, LambdaOrchestrator, runCommand, type AwsTarget } from './aws.clients';
