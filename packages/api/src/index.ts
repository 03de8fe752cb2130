export { buildApp } from './app';
export { configFromEnv, ConfigError, type ApiConfig } from './config';
export type { AppContext } from './context';
