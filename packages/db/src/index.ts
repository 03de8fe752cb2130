export * from './binaries';
export * from './bootstrap';
export * from './home';
export * from './kysely';
export * from './migrate';
export * from './os-user';
export * from './pg-node';
export * from './schema';
