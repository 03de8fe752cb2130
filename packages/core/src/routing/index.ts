export * from './classify';
export * from './decide';
export * from './health';
export * from './latency';
export * from './retry';
