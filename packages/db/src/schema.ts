import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Timestamps arrive as Date, may be written as Date or ISO string. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Tombstone = 'deleted' | 'erased' | null;

/** Columns every global row carries for the replication conflict rule. */
interface GlobalColumns {
  hlc: ColumnType<string, never, never>;
  originRegion: ColumnType<string, never, never>;
  tombstone: ColumnType<Tombstone, Tombstone | undefined, Tombstone>;
}

export interface OrganizationTable extends GlobalColumns {
  id: string;
  name: string;
  homeRegion: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface AppUserTable extends GlobalColumns {
  id: string;
  orgId: string;
  role: 'admin' | 'agent' | 'viewer' | 'dpo';
  emailHash: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface UserPreferencesTable extends GlobalColumns {
  userId: string;
  locale: Generated<string>;
  timezone: Generated<string>;
  theme: Generated<'light' | 'dark' | 'system'>;
  preferredRegion: string | null;
  updatedAt: Timestamp;
}

export interface ReferentialTable extends GlobalColumns {
  id: string;
  kind: string;
  code: string;
  label: string;
  sortOrder: Generated<number>;
  active: Generated<boolean>;
  updatedAt: Timestamp;
}

interface RegionalColumns {
  id: Generated<string>;
  orgId: string;
  region: ColumnType<string, never, never>;
  createdAt: Timestamp;
}

export interface DossierTable extends RegionalColumns {
  reference: string | null;
  title: string;
  description: string | null;
  status: Generated<string>;
  clientName: string | null;
  clientEmail: string | null;
  clientPhone: string | null;
  updatedAt: Timestamp;
}

export interface AnnonceTable extends RegionalColumns {
  dossierId: string | null;
  title: string;
  description: string | null;
  propertyType: Generated<string>;
  transactionType: Generated<string>;
  price: ColumnType<string | null, number | string | null | undefined, number | string | null>;
  currency: Generated<string>;
  surfaceM2: ColumnType<string | null, number | string | null | undefined, number | string | null>;
  rooms: number | null;
  city: string | null;
  country: string | null;
  status: Generated<string>;
  updatedAt: Timestamp;
}

export interface DocumentTable extends RegionalColumns {
  dossierId: string | null;
  filename: string;
  contentType: Generated<string>;
  sizeBytes: ColumnType<string | null, number | null | undefined, number | null>;
  sha256: string | null;
  updatedAt: Timestamp;
}

export interface ActivityTable extends RegionalColumns {
  dossierId: string | null;
  kind: string;
  subject: string;
  body: string | null;
  occurredAt: Timestamp;
}

export interface UserProfileTable {
  userId: string;
  orgId: string;
  region: ColumnType<string, never, never>;
  email: string;
  fullName: string;
  phone: string | null;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface AuditEventTable {
  id: Generated<string>;
  orgId: string;
  region: ColumnType<string, never, never>;
  actor: string;
  action: string;
  entity: string;
  entityId: string | null;
  outcome: Generated<string>;
  sourceIp: string | null;
  requestId: string | null;
  at: Timestamp;
}

export interface LatencySampleTable {
  id: Generated<string>;
  fromRegion: string;
  toRegion: string;
  rttMs: number;
  source: Generated<'probe' | 'client'>;
  sampledAt: Timestamp;
}

export interface RegionHealthTable {
  id: Generated<string>;
  region: string;
  status: string;
  detail: ColumnType<unknown, string | undefined, string>;
  observedAt: Timestamp;
}

export interface ReplicationConflictTable {
  id: ColumnType<string, never, never>;
  tableName: string;
  rowId: string;
  kind: string;
  decision: string;
  localRow: unknown;
  remoteRow: unknown;
  localHlc: string | null;
  remoteHlc: string | null;
  localOrigin: string | null;
  remoteOrigin: string | null;
  detectedAt: Timestamp;
}

export interface AtlasClusterTable {
  singleton: Generated<boolean>;
  region: string;
  regionCode: string;
  createdAt: Timestamp;
}

/** The database as Kysely sees it: snake_case in SQL, camelCase here (CamelCasePlugin). */
export interface Database {
  atlasCluster: AtlasClusterTable;
  organization: OrganizationTable;
  appUser: AppUserTable;
  userPreferences: UserPreferencesTable;
  referential: ReferentialTable;
  dossier: DossierTable;
  annonce: AnnonceTable;
  document: DocumentTable;
  activity: ActivityTable;
  userProfile: UserProfileTable;
  auditEvent: AuditEventTable;
  latencySample: LatencySampleTable;
  regionHealth: RegionHealthTable;
  replicationConflict: ReplicationConflictTable;
}

export type Organization = Selectable<OrganizationTable>;
export type Dossier = Selectable<DossierTable>;
export type NewDossier = Insertable<DossierTable>;
export type DossierUpdate = Updateable<DossierTable>;
