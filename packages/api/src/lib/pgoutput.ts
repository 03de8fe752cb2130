/**
 * The streaming replication protocol (CopyData payloads of a logical replication connection)
 * and the pgoutput plugin's logical replication messages, as pure functions of a Buffer.
 * Formats: PostgreSQL docs, "Streaming Replication Protocol" and "Logical Replication Message
 * Formats" (protocol version 1). LSNs and timestamps are 64-bit: bigint throughout.
 */

export class ReplicationProtocolError extends Error {
  constructor(message: string) {
    super(`replication protocol: ${message}`);
    this.name = 'ReplicationProtocolError';
  }
}

/** What the server sends inside CopyData once START_REPLICATION has begun. */
export type ServerMessage =
  /** XLogData: WAL (here: one pgoutput message) starting at `start`; `end` = the server's current WAL end. */
  | { readonly type: 'xlog'; readonly start: bigint; readonly end: bigint; readonly sentAt: bigint; readonly data: Buffer }
  /** Primary keepalive: `replyRequested` asks for a status update at once (else the sender times out). */
  | { readonly type: 'keepalive'; readonly end: bigint; readonly sentAt: bigint; readonly replyRequested: boolean };

/** A column value of a TupleData: text, NULL, `unchanged` (a TOASTed value the change did not touch) or binary. */
export type TupleValue = string | null | { readonly unchanged: true } | Buffer;

export interface RelationColumn {
  /** 1 = part of the replica identity (the key). */
  readonly flags: number;
  readonly name: string;
  readonly typeOid: number;
  readonly typeModifier: number;
}

export type PgoutputMessage =
  | { readonly type: 'begin'; readonly finalLsn: bigint; readonly commitTime: bigint; readonly xid: number }
  | { readonly type: 'commit'; readonly flags: number; readonly commitLsn: bigint; readonly endLsn: bigint; readonly commitTime: bigint }
  | { readonly type: 'origin'; readonly commitLsn: bigint; readonly name: string }
  | {
      readonly type: 'relation';
      readonly relationId: number;
      readonly namespace: string;
      readonly name: string;
      readonly replicaIdentity: string;
      readonly columns: readonly RelationColumn[];
    }
  | { readonly type: 'type'; readonly typeOid: number; readonly namespace: string; readonly name: string }
  | { readonly type: 'insert'; readonly relationId: number; readonly newTuple: readonly TupleValue[] }
  | {
      readonly type: 'update';
      readonly relationId: number;
      /** 'key': the old replica identity (the key changed); 'old': the whole old row (REPLICA IDENTITY FULL). */
      readonly old?: { readonly kind: 'key' | 'old'; readonly tuple: readonly TupleValue[] };
      readonly newTuple: readonly TupleValue[];
    }
  | { readonly type: 'delete'; readonly relationId: number; readonly old: { readonly kind: 'key' | 'old'; readonly tuple: readonly TupleValue[] } }
  | { readonly type: 'truncate'; readonly options: number; readonly relationIds: readonly number[] }
  | { readonly type: 'message'; readonly transactional: boolean; readonly lsn: bigint; readonly prefix: string; readonly content: Buffer }
  /** A message this decoder does not need (streamed or two-phase transactions: never requested). */
  | { readonly type: 'other'; readonly tag: string };

/** Bounds-checked big-endian reads: a short buffer is a protocol error, never a garbage value. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw new ReplicationProtocolError(`message ends inside ${what} (needs ${n} bytes at offset ${this.at}, has ${this.buf.length - this.at})`);
  }
  byte(what: string): number {
    this.need(1, what);
    return this.buf[this.at++]!;
  }
  char(what: string): string {
    return String.fromCharCode(this.byte(what));
  }
  int16(what: string): number {
    this.need(2, what);
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(what: string): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  uint32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  int64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    if (n < 0) throw new ReplicationProtocolError(`negative length ${n} for ${what}`);
    this.need(n, what);
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  /** A NUL-terminated UTF-8 string. */
  cstring(what: string): string {
    const end = this.buf.indexOf(0, this.at);
    if (end < 0) throw new ReplicationProtocolError(`${what} is not NUL-terminated`);
    const v = this.buf.toString('utf8', this.at, end);
    this.at = end + 1;
    return v;
  }
  rest(): Buffer {
    const v = this.buf.subarray(this.at);
    this.at = this.buf.length;
    return v;
  }
}

/** Decodes one CopyData payload of a replication stream ('w' XLogData or 'k' keepalive). */
export function decodeServerMessage(buf: Buffer): ServerMessage {
  const r = new Reader(buf);
  const tag = r.char('the message type');
  if (tag === 'w') {
    const start = r.int64('XLogData start');
    const end = r.int64('XLogData end');
    const sentAt = r.int64('XLogData send time');
    return { type: 'xlog', start, end, sentAt, data: r.rest() };
  }
  if (tag === 'k') {
    const end = r.int64('keepalive WAL end');
    const sentAt = r.int64('keepalive send time');
    return { type: 'keepalive', end, sentAt, replyRequested: r.byte('keepalive reply flag') === 1 };
  }
  throw new ReplicationProtocolError(`unknown server message type ${JSON.stringify(tag)}`);
}

function tupleData(r: Reader): TupleValue[] {
  const n = r.int16('TupleData column count');
  const values: TupleValue[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.char(`TupleData column ${i} kind`);
    if (kind === 'n') values.push(null);
    else if (kind === 'u') values.push({ unchanged: true });
    else if (kind === 't') values.push(r.bytes(r.int32(`column ${i} length`), `column ${i} value`).toString('utf8'));
    else if (kind === 'b') values.push(Buffer.from(r.bytes(r.int32(`column ${i} length`), `column ${i} value`)));
    else throw new ReplicationProtocolError(`unknown TupleData column kind ${JSON.stringify(kind)}`);
  }
  return values;
}

function oldTuple(r: Reader, marker: string): { kind: 'key' | 'old'; tuple: TupleValue[] } {
  if (marker !== 'K' && marker !== 'O') throw new ReplicationProtocolError(`expected 'K' or 'O' before the old tuple, got ${JSON.stringify(marker)}`);
  return { kind: marker === 'K' ? 'key' : 'old', tuple: tupleData(r) };
}

/** Decodes one pgoutput message (the data of an XLogData), protocol version 1. */
export function decodePgoutput(buf: Buffer): PgoutputMessage {
  const r = new Reader(buf);
  const tag = r.char('the message type');
  switch (tag) {
    case 'B':
      return { type: 'begin', finalLsn: r.int64('final LSN'), commitTime: r.int64('commit time'), xid: r.uint32('xid') };
    case 'C':
      return { type: 'commit', flags: r.byte('flags'), commitLsn: r.int64('commit LSN'), endLsn: r.int64('end LSN'), commitTime: r.int64('commit time') };
    case 'O':
      return { type: 'origin', commitLsn: r.int64('origin commit LSN'), name: r.cstring('origin name') };
    case 'R': {
      const relationId = r.uint32('relation id');
      const namespace = r.cstring('namespace');
      const name = r.cstring('relation name');
      const replicaIdentity = r.char('replica identity');
      const count = r.int16('column count');
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        columns.push({ flags: r.byte('column flags'), name: r.cstring('column name'), typeOid: r.uint32('column type'), typeModifier: r.int32('column type modifier') });
      }
      return { type: 'relation', relationId, namespace, name, replicaIdentity, columns };
    }
    case 'Y':
      return { type: 'type', typeOid: r.uint32('type id'), namespace: r.cstring('type namespace'), name: r.cstring('type name') };
    case 'I': {
      const relationId = r.uint32('relation id');
      const marker = r.char("the 'N' marker");
      if (marker !== 'N') throw new ReplicationProtocolError(`insert: expected 'N', got ${JSON.stringify(marker)}`);
      return { type: 'insert', relationId, newTuple: tupleData(r) };
    }
    case 'U': {
      const relationId = r.uint32('relation id');
      let marker = r.char('the tuple marker');
      let old: { kind: 'key' | 'old'; tuple: TupleValue[] } | undefined;
      if (marker === 'K' || marker === 'O') {
        old = oldTuple(r, marker);
        marker = r.char("the 'N' marker");
      }
      if (marker !== 'N') throw new ReplicationProtocolError(`update: expected 'N', got ${JSON.stringify(marker)}`);
      return { type: 'update', relationId, ...(old ? { old } : {}), newTuple: tupleData(r) };
    }
    case 'D': {
      const relationId = r.uint32('relation id');
      return { type: 'delete', relationId, old: oldTuple(r, r.char('the tuple marker')) };
    }
    case 'T': {
      const count = r.int32('relation count');
      const options = r.byte('truncate options');
      const relationIds: number[] = [];
      for (let i = 0; i < count; i++) relationIds.push(r.uint32('relation id'));
      return { type: 'truncate', options, relationIds };
    }
    case 'M': {
      const transactional = r.byte('message flags') === 1;
      const lsn = r.int64('message LSN');
      const prefix = r.cstring('message prefix');
      const content = Buffer.from(r.bytes(r.int32('message length'), 'message content'));
      return { type: 'message', transactional, lsn, prefix, content };
    }
    default:
      return { type: 'other', tag };
  }
}

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 00:00 UTC). */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n;

/** A wall-clock instant (ms since the Unix epoch) as a PostgreSQL timestamp (µs since 2000-01-01). */
export function pgTimestamp(unixMs: number): bigint {
  return BigInt(Math.round(unixMs * 1000)) - PG_EPOCH_OFFSET_US;
}

/**
 * Standby status update ('r'): the positions written, flushed and applied, then the client's
 * clock; the server may release WAL up to `flushed` (for a logical slot: its confirmed flush).
 */
export function encodeStatusUpdate(positions: { written: bigint; flushed: bigint; applied: bigint }, clientTime: bigint, replyRequested = false): Buffer {
  const buf = Buffer.alloc(34);
  buf.write('r', 0, 'latin1');
  buf.writeBigUInt64BE(positions.written, 1);
  buf.writeBigUInt64BE(positions.flushed, 9);
  buf.writeBigUInt64BE(positions.applied, 17);
  buf.writeBigInt64BE(clientTime, 25);
  buf.writeUInt8(replyRequested ? 1 : 0, 33);
  return buf;
}

/** An LSN in PostgreSQL's text form, `XXX/XXXXXXXX` (as in pg_current_wal_lsn()). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Parses `XXX/XXXXXXXX`. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new ReplicationProtocolError(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}
