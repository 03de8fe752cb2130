export * from './audit.repository';
export * from './executor';
export * from './organization.repository';
export * from './regional.repository';
export * from './referential.repository';
export * from './user.repository';
