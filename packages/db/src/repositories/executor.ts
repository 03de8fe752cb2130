import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema';

/** Repository functions take this first: the pool or the request's transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;
