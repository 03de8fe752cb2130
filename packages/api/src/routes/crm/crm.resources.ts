import Type from 'typebox';
import type { FilterableQuery, Row } from '@atlas/db';
import { Email, Timestamp } from '../../lib/schemas';
import type { CrmResource } from './crm-resource';

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Text = (max: number) => Type.String({ maxLength: max });
const Title = Type.String({ minLength: 1, maxLength: 300, pattern: '\\S' });
const DossierLink = Type.Optional(Nullable(Type.String({ format: 'uuid' })));

const regionalColumns = {
  id: Type.String(),
  orgId: Type.String(),
  region: Type.String(),
  createdAt: Timestamp,
};

const DOSSIER_STATUS = ['open', 'in_progress', 'won', 'lost', 'closed'] as const;
const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const dossiers: CrmResource = {
  table: 'dossier',
  path: 'dossiers',
  entity: 'dossier',
  personal: true,
  create: {
    title: Title,
    reference: Type.Optional(Nullable(Text(100))),
    description: Type.Optional(Nullable(Text(10_000))),
    status: Type.Optional(literals(DOSSIER_STATUS)),
    clientName: Type.Optional(Nullable(Text(200))),
    clientEmail: Type.Optional(Nullable(Email)),
    clientPhone: Type.Optional(Nullable(Text(40))),
  },
  item: Type.Object({
    ...regionalColumns,
    title: Type.String(),
    reference: Nullable(Type.String()),
    description: Nullable(Type.String()),
    status: Type.String(),
    clientName: Nullable(Type.String()),
    clientEmail: Nullable(Type.String()),
    clientPhone: Nullable(Type.String()),
    updatedAt: Timestamp,
  }),
  filters: {
    status: Type.Optional(literals(DOSSIER_STATUS)),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Case-insensitive search in title and reference' })),
  },
  toFilters: (query) => [
    ...(query.status ? [(qb: FilterableQuery) => qb.where('status', '=', query.status)] : []),
    ...(query.q
      ? [
          (qb: FilterableQuery) =>
            qb.where((eb: FilterableQuery) =>
              eb.or([eb('title', 'ilike', `%${escapeLike(String(query.q))}%`), eb('reference', 'ilike', `%${escapeLike(String(query.q))}%`)]),
            ),
        ]
      : []),
  ],
};

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const numberOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

const ANNONCE_STATUS = ['draft', 'published', 'under_offer', 'sold', 'archived'] as const;

export const annonces: CrmResource = {
  table: 'annonce',
  path: 'annonces',
  entity: 'annonce',
  create: {
    title: Title,
    description: Type.Optional(Nullable(Text(10_000))),
    dossierId: DossierLink,
    propertyType: Type.Optional(literals(['apartment', 'house', 'land', 'commercial', 'parking', 'other'])),
    transactionType: Type.Optional(literals(['sale', 'rent'])),
    price: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1e12 }))),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    surfaceM2: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 1e7 }))),
    rooms: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1000 }))),
    city: Type.Optional(Nullable(Text(120))),
    country: Type.Optional(Nullable(Type.String({ pattern: '^[A-Z]{2}$' }))),
    status: Type.Optional(literals(ANNONCE_STATUS)),
  },
  item: Type.Object({
    ...regionalColumns,
    dossierId: Nullable(Type.String()),
    title: Type.String(),
    description: Nullable(Type.String()),
    propertyType: Type.String(),
    transactionType: Type.String(),
    price: Nullable(Type.Number()),
    currency: Type.String(),
    surfaceM2: Nullable(Type.Number()),
    rooms: Nullable(Type.Integer()),
    city: Nullable(Type.String()),
    country: Nullable(Type.String()),
    status: Type.String(),
    updatedAt: Timestamp,
  }),
  filters: {
    status: Type.Optional(literals(ANNONCE_STATUS)),
    transactionType: Type.Optional(literals(['sale', 'rent'])),
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    minPrice: Type.Optional(Type.Number({ minimum: 0 })),
    maxPrice: Type.Optional(Type.Number({ minimum: 0 })),
    dossierId: Type.Optional(Type.String({ format: 'uuid' })),
  },
  toFilters: (query) => [
    ...(query.status ? [(qb: FilterableQuery) => qb.where('status', '=', query.status)] : []),
    ...(query.transactionType ? [(qb: FilterableQuery) => qb.where('transactionType', '=', query.transactionType)] : []),
    ...(query.city ? [(qb: FilterableQuery) => qb.where('city', 'ilike', escapeLike(String(query.city)))] : []),
    ...(query.minPrice !== undefined ? [(qb: FilterableQuery) => qb.where('price', '>=', query.minPrice)] : []),
    ...(query.maxPrice !== undefined ? [(qb: FilterableQuery) => qb.where('price', '<=', query.maxPrice)] : []),
    ...(query.dossierId ? [(qb: FilterableQuery) => qb.where('dossierId', '=', query.dossierId)] : []),
  ],
  toApi: (row: Row) => ({ ...row, price: numberOrNull(row.price), surfaceM2: numberOrNull(row.surfaceM2) }),
};

const ACTIVITY_KINDS = ['call', 'email', 'meeting', 'note', 'visit', 'task'] as const;

export const activities: CrmResource = {
  table: 'activity',
  path: 'activities',
  entity: 'activity',
  personal: true,
  create: {
    kind: literals(ACTIVITY_KINDS),
    subject: Title,
    body: Type.Optional(Nullable(Text(20_000))),
    occurredAt: Type.Optional(Type.String({ format: 'date-time' })),
    dossierId: DossierLink,
  },
  item: Type.Object({
    ...regionalColumns,
    dossierId: Nullable(Type.String()),
    kind: Type.String(),
    subject: Type.String(),
    body: Nullable(Type.String()),
    occurredAt: Timestamp,
  }),
  filters: {
    kind: Type.Optional(literals(ACTIVITY_KINDS)),
    dossierId: Type.Optional(Type.String({ format: 'uuid' })),
  },
  toFilters: (query) => [
    ...(query.kind ? [(qb: FilterableQuery) => qb.where('kind', '=', query.kind)] : []),
    ...(query.dossierId ? [(qb: FilterableQuery) => qb.where('dossierId', '=', query.dossierId)] : []),
  ],
};
