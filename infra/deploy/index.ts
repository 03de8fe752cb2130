export type { DeployClients, HealthProbe, ImageBuilder, MigrationRunner, RegistryClient, ServiceClient } from './deploy.clients';
export { DeployPlanError, formatPlan, planDeploy, type DeployOptions, type DeployPlan, type DeployStep, type StepKind } from './deploy.planner';
export { runDeploy, type DeployReport, type StepResult, type StepStatus } from './deploy.runner';
