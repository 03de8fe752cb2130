export * from './topology';
export * from './ids';
export * from './errors';
