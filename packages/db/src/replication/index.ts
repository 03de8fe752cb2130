export * from './clock';
export { endpointFromUrl, endpointToUrl, parseConninfo, toConninfo, type PgEndpoint } from './connection';
export * from './global-tables';
export * from './mesh';
export * from './names';
export * from './repair';
export * from './status';
export * from './wait';
