export * from './machine';
export * from './transitions';
export * from './types';
