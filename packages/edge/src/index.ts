export { buildEdge, type BuildEdgeOptions, type EdgeInstance } from './app';
export {
  bundledCountryDbPath,
  edgeConfig,
  edgeConfigFromEnv,
  loopbackUpstreams,
  EdgeConfigError,
  type EdgeConfig,
  type EdgeHealthConfig,
} from './config';
export { openCountryLookup, noCountryLookup, type CountryLookup } from './geo';
export { RegionMonitor, type RegionStatus } from './region-monitor';
export { EDGE_REGION, REPLAY_HEADER } from './proxy';
export { serveWebApp } from './web-app';
export { CLIENT_REGION_HEADER } from './proxy';
