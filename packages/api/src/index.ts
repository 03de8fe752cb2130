export { buildApp } from './app';
export { configFromEnv, ConfigError, type ApiConfig } from './config';
export type { AppContext } from './context';
export { listenForChanges, type ChangeListener } from './lib/change-listener';
export { replayRegionErasureLedger, type RegionReplayReport } from './routes/privacy/erasure-ledger.store';
