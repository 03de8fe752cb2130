import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  decodePgoutput,
  decodeServerMessage,
  encodeStatusUpdate,
  pgTimestamp,
  ReplicationProtocolError,
  type TupleValue,
} from './pgoutput';

/** The publication of the cached tables (migration 025). */
export const CACHE_PUBLICATION = 'atlas_cache';
/** Slot names of the API's streams: temporary, one per connection, gone when it closes. */
export const CACHE_SLOT_PREFIX = 'atlas_cache_';
/** Status updates at least this often, so the temporary slot never holds WAL for long. */
const STATUS_INTERVAL_MS = 5_000;

export interface ChangeListener {
  /** Resolves once the stream is running (the first time). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export interface ChangeHandlers {
  onChange(table: string, key: string): void | Promise<void>;
  onReset(): void | Promise<void>;
  /**
   * A running stream was lost: until the next onReset nothing invalidates, so the cache must
   * not be used. Without it, onReset runs (which clears, but lets the cache fill again).
   */
  onLost?(): void | Promise<void>;
  onError?(err: Error): void;
}

/** A committed change's cache entry: the table and the key lib/cache.ts stores it under. */
export type CacheEvent =
  | { readonly kind: 'change'; readonly table: string; readonly key: string }
  /** Something changed that cannot be named by key (truncate, a key not in the stream): drop everything. */
  | { readonly kind: 'reset'; readonly reason: string }
  /** End of a transaction: everything before it has been delivered. */
  | { readonly kind: 'commit'; readonly endLsn: bigint };

const text = (v: TupleValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The cached tables and how a row names its entry. A delete carries only the replica identity
 * (the primary key): referential is cached by kind, and its id is `<kind>:<code>` (a CHECK
 * constraint; kind has no ':'), so the kind is read from the id when the column is absent.
 */
const CACHE_KEYS: Readonly<Record<string, (row: Readonly<Record<string, TupleValue | undefined>>) => string | undefined>> = {
  organization: (row) => text(row.id),
  app_user: (row) => text(row.id),
  user_preferences: (row) => text(row.user_id),
  referential: (row) => text(row.kind) ?? text(row.id)?.split(':')[0],
};

/**
 * Turns pgoutput messages into cache events. Pure but for the relation map, which is the
 * stream's own state: a Relation message precedes the first change of each table (and any
 * change of its definition) on one connection.
 */
export class CacheChangeDecoder {
  private readonly relations = new Map<number, { readonly table: string; readonly columns: readonly string[] }>();

  events(data: Buffer): CacheEvent[] {
    const m = decodePgoutput(data);
    switch (m.type) {
      case 'relation':
        this.relations.set(m.relationId, { table: m.namespace === 'public' ? m.name : `${m.namespace}.${m.name}`, columns: m.columns.map((c) => c.name) });
        return [];
      case 'insert':
        return this.keyed(m.relationId, [m.newTuple]);
      case 'update':
        // The old key too when the key changed: both entries are stale.
        return this.keyed(m.relationId, m.old ? [m.old.tuple, m.newTuple] : [m.newTuple]);
      case 'delete':
        return this.keyed(m.relationId, [m.old.tuple]);
      case 'truncate':
        return m.relationIds.some((id) => this.cached(id)) ? [{ kind: 'reset', reason: 'a cached table was truncated' }] : [];
      case 'commit':
        return [{ kind: 'commit', endLsn: m.endLsn }];
      default:
        return [];
    }
  }

  private cached(relationId: number): boolean {
    const relation = this.relations.get(relationId);
    return relation !== undefined && relation.table in CACHE_KEYS;
  }

  private keyed(relationId: number, tuples: ReadonlyArray<readonly TupleValue[]>): CacheEvent[] {
    const relation = this.relations.get(relationId);
    if (!relation) throw new ReplicationProtocolError(`a change of relation ${relationId} came before its Relation message`);
    const keyOf = CACHE_KEYS[relation.table];
    if (!keyOf) return [];
    const keys = new Set<string>();
    for (const tuple of tuples) {
      const key = keyOf(Object.fromEntries(relation.columns.map((name, i) => [name, tuple[i]])));
      if (key === undefined) return [{ kind: 'reset', reason: `a change of ${relation.table} without its cache key` }];
      keys.add(key);
    }
    return [...keys].map((key) => ({ kind: 'change', table: relation.table, key }));
  }
}

/** What pg's Connection offers to a Submittable in CopyBoth mode (not in @types/pg). */
type CopyConnection = pg.Connection & { sendCopyFromChunk(chunk: Buffer): void; sendCopyFail(message: string): void };

/**
 * START_REPLICATION as a pg Submittable: the client hands it every CopyData of the stream
 * (handleCopyData); the stream ends with an error or, should the server end it, ReadyForQuery.
 */
class ReplicationStream implements pg.Submittable {
  connection?: CopyConnection;
  constructor(
    private readonly command: string,
    private readonly onData: (chunk: Buffer) => void,
    private readonly onEnd: (err: Error) => void,
  ) {}
  submit(connection: pg.Connection): void {
    this.connection = connection as CopyConnection;
    connection.query(this.command);
  }
  handleCopyData(msg: { chunk: Buffer }): void {
    this.onData(msg.chunk);
  }
  handleError(err: Error): void {
    this.onEnd(err);
  }
  handleReadyForQuery(): void {
    this.onEnd(new Error('the server ended the cache stream'));
  }
  handleCopyInResponse(connection: CopyConnection): void {
    connection.sendCopyFail('the cache stream sends no COPY data');
  }
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
}

const later = (fn: () => void | Promise<void>): Promise<void> => {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err as Error);
  }
};

/**
 * Streams committed changes of the cached tables from the database's WAL (logical decoding,
 * pgoutput, publication atlas_cache) over a replication connection as the stream role, and
 * reconnects with capped backoff. Every connection creates a new temporary slot and then calls
 * onReset: changes committed while no slot existed are not in any stream, so whatever was
 * cached is suspect (onReset also runs as soon as a running stream is lost). Changes arrive
 * in commit order, local ones and those the subscription apply worker applied alike, once
 * their commit's WAL is flushed. A position is confirmed to the server only once the handlers
 * of every change up to it have finished: the slot's confirmed_flush_lsn is what this cache
 * has caught up with.
 */
export function listenForChanges(connectionString: string, handlers: ChangeHandlers): ChangeListener {
  let client: pg.Client | undefined;
  let closed = false;
  let attempt = 0;
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));

  const connect = async (): Promise<void> => {
    if (closed) return;
    const config: pg.ClientConfig & { replication: string } = { connectionString, application_name: 'atlas-cache-invalidation', replication: 'database' };
    const c = new pg.Client(config);
    client = c;
    const decoder = new CacheChangeDecoder();
    let stream: ReplicationStream | undefined;
    let timer: NodeJS.Timeout | undefined;
    let soon: NodeJS.Timeout | undefined;
    let failed = false;
    let streaming = false;
    // Positions: received from the server; processed = every change up to it handled.
    let received = 0n;
    let processed = 0n;
    let reported = -1n;
    let inTransaction = false;
    let outstanding: Promise<void>[] = [];
    let pendingCommits = 0;
    let chain = Promise.resolve();

    const retry = (err: Error) => {
      if (failed) return;
      failed = true;
      clearInterval(timer);
      clearTimeout(soon);
      if (!closed) handlers.onError?.(err);
      // Changes committed from now until a new slot exists reach no stream: drop what is
      // cached at once rather than serve it until the reconnection's reset.
      if (streaming && !closed) void later(() => (handlers.onLost ?? handlers.onReset)()).catch((e: Error) => handlers.onError?.(e));
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      void c.end().catch(() => undefined);
      if (closed) return;
      attempt += 1;
      setTimeout(() => void connect(), Math.min(5_000, 100 * 2 ** attempt)).unref();
    };
    const sendStatus = () => {
      if (failed || !stream?.connection) return;
      const flushed = processed;
      stream.connection.sendCopyFromChunk(
        encodeStatusUpdate({ written: received > flushed ? received : flushed, flushed, applied: flushed }, pgTimestamp(Date.now())),
      );
      reported = flushed;
    };
    const reportSoon = () => {
      if (soon || processed === reported) return;
      soon = setTimeout(() => {
        soon = undefined;
        sendStatus();
      }, 10);
    };
    const handled = (p: Promise<void>) => outstanding.push(p.catch((err: Error) => handlers.onError?.(err)));

    const onData = (chunk: Buffer) => {
      try {
        const msg = decodeServerMessage(chunk);
        if (msg.end > received) received = msg.end;
        if (msg.type === 'keepalive') {
          // Nothing in flight: everything the server has sent so far is handled.
          if (!inTransaction && pendingCommits === 0 && outstanding.length === 0 && msg.end > processed) processed = msg.end;
          if (msg.replyRequested) sendStatus();
          else reportSoon();
          return;
        }
        for (const e of decoder.events(msg.data)) {
          if (e.kind === 'change') handled(later(() => handlers.onChange(e.table, e.key)));
          else if (e.kind === 'reset') handled(later(() => handlers.onReset()));
          else {
            const batch = outstanding;
            outstanding = [];
            pendingCommits += 1;
            chain = chain
              .then(() => Promise.all(batch))
              .then(() => {
                pendingCommits -= 1;
                if (e.endLsn > processed) processed = e.endLsn;
                reportSoon();
              });
          }
        }
        const tag = msg.data[0];
        if (tag === 0x42 /* B */) inTransaction = true;
        else if (tag === 0x43 /* C */) inTransaction = false;
      } catch (err) {
        // Undecodable: the stream's state is unknown; a new connection starts clean.
        retry(err as Error);
      }
    };

    c.once('error', retry);
    c.once('end', () => retry(new Error('the cache stream connection closed')));
    try {
      await c.connect();
      const slot = `${CACHE_SLOT_PREFIX}${randomBytes(8).toString('hex')}`;
      await c.query(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'nothing')`);
      // Every change committed from here on is in the slot; what was cached before may be stale.
      await handlers.onReset();
      const started = new Promise<void>((resolve, reject) => {
        c.connection.once('replicationStart', () => resolve());
        stream = new ReplicationStream(
          // messages: a transactional pg_logical_emit_message arrives as a transaction of its
          // own, so a caller can wait until this cache has caught up with a WAL position.
          `START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '1', publication_names '${CACHE_PUBLICATION}', messages 'true')`,
          onData,
          (err) => {
            reject(err);
            retry(err);
          },
        );
        c.query(stream);
      });
      await started;
      streaming = true;
      timer = setInterval(sendStatus, STATUS_INTERVAL_MS).unref();
      attempt = 0;
      resolveReady();
    } catch (err) {
      retry(err as Error);
    }
  };
  void connect();
  return {
    ready,
    close: async () => {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
