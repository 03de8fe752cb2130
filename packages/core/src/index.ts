export * from './topology';
export * from './ids';
export * from './errors';
export * from './routing/index';
export * from './hlc';
