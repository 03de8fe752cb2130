import { describe, expect, it } from 'vitest';
import { CacheChangeDecoder } from '../../src/lib/change-listener';
import {
  decodePgoutput,
  decodeServerMessage,
  encodeStatusUpdate,
  formatLsn,
  parseLsn,
  pgTimestamp,
  ReplicationProtocolError,
} from '../../src/lib/pgoutput';

/**
 * Messages built byte by byte from the PostgreSQL documentation ("Streaming Replication
 * Protocol", "Logical Replication Message Formats", protocol version 1), independently of the
 * decoder under test.
 */
class Bytes {
  private readonly parts: Buffer[] = [];
  char(c: string): this {
    this.parts.push(Buffer.from(c, 'latin1'));
    return this;
  }
  int8(n: number): this {
    this.parts.push(Buffer.from([n]));
    return this;
  }
  int16(n: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }
  int32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    this.parts.push(b);
    return this;
  }
  int64(n: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    this.parts.push(b);
    return this;
  }
  string(s: string): this {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  /** TupleData: null, 'u' (unchanged TOAST) or a text value per column. */
  tuple(values: ReadonlyArray<string | null | 'UNCHANGED'>): this {
    this.int16(values.length);
    for (const v of values) {
      if (v === null) this.char('n');
      else if (v === 'UNCHANGED') this.char('u');
      else {
        const text = Buffer.from(v, 'utf8');
        this.char('t').int32(text.length).raw(text);
      }
    }
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const relation = (id: number, name: string, columns: ReadonlyArray<[name: string, key: boolean]>, namespace = 'public') => {
  const b = new Bytes().char('R').int32(id).string(namespace).string(name).char('d').int16(columns.length);
  for (const [col, key] of columns) b.int8(key ? 1 : 0).string(col).int32(25).int32(-1);
  return b.build();
};

const REFERENTIAL: ReadonlyArray<[string, boolean]> = [['id', true], ['kind', false], ['code', false], ['label', false]];

describe('streaming replication messages', () => {
  it('decodes XLogData: start, WAL end, send time and the payload after the 25-byte header', () => {
    const payload = new Bytes().char('B').int64(0x16b374d848n).int64(1n).int32(7).build();
    const msg = decodeServerMessage(new Bytes().char('w').int64(0x1_0000_0010n).int64(0x1_0000_0400n).int64(123_456n).raw(payload).build());
    expect(msg).toEqual({ type: 'xlog', start: 0x1_0000_0010n, end: 0x1_0000_0400n, sentAt: 123_456n, data: payload });
  });

  it('decodes a primary keepalive with and without a reply request', () => {
    expect(decodeServerMessage(new Bytes().char('k').int64(0xabcn).int64(99n).int8(1).build())).toEqual({ type: 'keepalive', end: 0xabcn, sentAt: 99n, replyRequested: true });
    expect(decodeServerMessage(new Bytes().char('k').int64(5n).int64(6n).int8(0).build())).toMatchObject({ replyRequested: false });
  });

  it('refuses an unknown type and a short message', () => {
    expect(() => decodeServerMessage(Buffer.from('x'))).toThrow(ReplicationProtocolError);
    expect(() => decodeServerMessage(new Bytes().char('k').int64(5n).build())).toThrow(/ends inside keepalive send time/);
  });

  it('encodes a standby status update: r, written, flushed, applied, clock, reply flag (34 bytes)', () => {
    const buf = encodeStatusUpdate({ written: 0x20n, flushed: 0x10n, applied: 0x10n }, 42n, true);
    expect(buf).toEqual(new Bytes().char('r').int64(0x20n).int64(0x10n).int64(0x10n).int64(42n).int8(1).build());
  });

  it('counts time from the PostgreSQL epoch in microseconds', () => {
    expect(pgTimestamp(Date.UTC(2000, 0, 1))).toBe(0n);
    expect(pgTimestamp(Date.UTC(2000, 0, 1, 0, 0, 1))).toBe(1_000_000n);
  });

  it('reads and writes LSNs in their text form', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(parseLsn('0/0'))).toBe('0/0');
    expect(() => parseLsn('16-B3')).toThrow(ReplicationProtocolError);
  });
});

describe('pgoutput messages', () => {
  it('decodes Begin, Commit, Origin and a logical decoding Message', () => {
    expect(decodePgoutput(new Bytes().char('B').int64(0x300n).int64(77n).int32(0xfffffff0).build())).toEqual({ type: 'begin', finalLsn: 0x300n, commitTime: 77n, xid: 0xfffffff0 });
    expect(decodePgoutput(new Bytes().char('C').int8(0).int64(0x2f0n).int64(0x320n).int64(77n).build())).toEqual({ type: 'commit', flags: 0, commitLsn: 0x2f0n, endLsn: 0x320n, commitTime: 77n });
    expect(decodePgoutput(new Bytes().char('O').int64(0x99n).string('pg_16400').build())).toEqual({ type: 'origin', commitLsn: 0x99n, name: 'pg_16400' });
    const content = Buffer.from('hello');
    expect(decodePgoutput(new Bytes().char('M').int8(1).int64(0x55n).string('atlas').int32(content.length).raw(content).build())).toEqual({
      type: 'message',
      transactional: true,
      lsn: 0x55n,
      prefix: 'atlas',
      content,
    });
  });

  it('decodes a Relation with its columns and key flags', () => {
    expect(decodePgoutput(relation(16_384, 'referential', REFERENTIAL))).toEqual({
      type: 'relation',
      relationId: 16_384,
      namespace: 'public',
      name: 'referential',
      replicaIdentity: 'd',
      columns: REFERENTIAL.map(([name, key]) => ({ flags: key ? 1 : 0, name, typeOid: 25, typeModifier: -1 })),
    });
  });

  it('decodes TupleData values: text (UTF-8), null and unchanged TOAST', () => {
    const msg = decodePgoutput(new Bytes().char('I').int32(1).char('N').tuple(['Zoë', null, 'UNCHANGED', '']).build());
    expect(msg).toEqual({ type: 'insert', relationId: 1, newTuple: ['Zoë', null, { unchanged: true }, ''] });
  });

  it('decodes an Update with the old key and a Delete with the old row', () => {
    expect(decodePgoutput(new Bytes().char('U').int32(3).char('K').tuple(['a', null]).char('N').tuple(['b', 'x']).build())).toEqual({
      type: 'update',
      relationId: 3,
      old: { kind: 'key', tuple: ['a', null] },
      newTuple: ['b', 'x'],
    });
    expect(decodePgoutput(new Bytes().char('U').int32(3).char('N').tuple(['b', 'y']).build())).toEqual({ type: 'update', relationId: 3, newTuple: ['b', 'y'] });
    expect(decodePgoutput(new Bytes().char('D').int32(3).char('O').tuple(['b', 'y']).build())).toEqual({ type: 'delete', relationId: 3, old: { kind: 'old', tuple: ['b', 'y'] } });
  });

  it('decodes a Truncate', () => {
    expect(decodePgoutput(new Bytes().char('T').int32(2).int8(1).int32(10).int32(11).build())).toEqual({ type: 'truncate', options: 1, relationIds: [10, 11] });
  });

  it('refuses a value cut short and an unknown column kind', () => {
    const whole = new Bytes().char('I').int32(1).char('N').tuple(['abcdef']).build();
    expect(() => decodePgoutput(whole.subarray(0, whole.length - 2))).toThrow(/ends inside column 0 value/);
    expect(() => decodePgoutput(new Bytes().char('I').int32(1).char('N').int16(1).char('z').build())).toThrow(/unknown TupleData column kind/);
    expect(() => decodePgoutput(new Bytes().char('D').int32(1).char('N').tuple(['a']).build())).toThrow(ReplicationProtocolError);
  });
});

describe('cache events of a stream', () => {
  const stream = () => {
    const d = new CacheChangeDecoder();
    d.events(relation(1, 'organization', [['id', true], ['name', false], ['home_region', false]]));
    d.events(relation(2, 'user_preferences', [['user_id', true], ['locale', false]]));
    d.events(relation(3, 'referential', REFERENTIAL));
    d.events(relation(4, 'dossier', [['id', true], ['org_id', false]]));
    return d;
  };

  it('names the entry of an insert, update and delete by the key the cache uses', () => {
    const d = stream();
    expect(d.events(new Bytes().char('I').int32(1).char('N').tuple(['org_euw1_a', 'Acme', 'eu-west-1']).build())).toEqual([{ kind: 'change', table: 'organization', key: 'org_euw1_a' }]);
    expect(d.events(new Bytes().char('U').int32(2).char('N').tuple(['usr_1', 'fr']).build())).toEqual([{ kind: 'change', table: 'user_preferences', key: 'usr_1' }]);
    expect(d.events(new Bytes().char('D').int32(2).char('K').tuple(['usr_1', null]).build())).toEqual([{ kind: 'change', table: 'user_preferences', key: 'usr_1' }]);
    // referential is cached by kind.
    expect(d.events(new Bytes().char('I').int32(3).char('N').tuple(['country:fr', 'country', 'fr', 'France']).build())).toEqual([{ kind: 'change', table: 'referential', key: 'country' }]);
  });

  it('reads the kind from the id of a referential delete, which carries only the key', () => {
    expect(stream().events(new Bytes().char('D').int32(3).char('K').tuple(['currency:eur', null, null, null]).build())).toEqual([{ kind: 'change', table: 'referential', key: 'currency' }]);
  });

  it('invalidates both entries when an update moves a row to another key', () => {
    const events = stream().events(new Bytes().char('U').int32(3).char('K').tuple(['old_kind:a', null, null, null]).char('N').tuple(['new_kind:a', 'new_kind', 'a', 'A']).build());
    expect(events).toEqual([
      { kind: 'change', table: 'referential', key: 'old_kind' },
      { kind: 'change', table: 'referential', key: 'new_kind' },
    ]);
  });

  it('ignores tables it does not cache, and transaction boundaries other than the commit', () => {
    const d = stream();
    expect(d.events(new Bytes().char('I').int32(4).char('N').tuple(['dos_1', 'org_euw1_a']).build())).toEqual([]);
    expect(d.events(new Bytes().char('B').int64(1n).int64(1n).int32(1).build())).toEqual([]);
    expect(d.events(new Bytes().char('C').int8(0).int64(0x10n).int64(0x48n).int64(1n).build())).toEqual([{ kind: 'commit', endLsn: 0x48n }]);
  });

  it('drops everything on a truncate of a cached table or a change it cannot name', () => {
    const d = stream();
    expect(d.events(new Bytes().char('T').int32(1).int8(0).int32(4).build())).toEqual([]);
    expect(d.events(new Bytes().char('T').int32(2).int8(0).int32(4).int32(1).build())).toEqual([{ kind: 'reset', reason: 'a cached table was truncated' }]);
    expect(d.events(new Bytes().char('U').int32(1).char('N').tuple(['UNCHANGED', 'x', 'y']).build())).toEqual([{ kind: 'reset', reason: 'a change of organization without its cache key' }]);
  });

  it('keeps relations apart by namespace, and refuses a change before its relation', () => {
    const d = new CacheChangeDecoder();
    d.events(relation(9, 'organization', [['id', true]], 'audit'));
    expect(d.events(new Bytes().char('I').int32(9).char('N').tuple(['org_x']).build())).toEqual([]);
    expect(() => d.events(new Bytes().char('I').int32(10).char('N').tuple(['org_x']).build())).toThrow(/before its Relation message/);
  });
});
