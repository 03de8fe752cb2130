import { createPrivateKey, createPublicKey, createHash, sign, verify } from 'node:crypto';
import { sql } from 'kysely';
import type { Ed25519Jwk } from '../home';
import type { Executor } from './executor';

/** The first broken or missing link of a region's audit chain, or none. */
export interface ChainReport {
  /** Events checked before the verdict. */
  readonly checked: number;
  readonly ok: boolean;
  readonly broken?: { readonly seq: number; readonly id: string | null; readonly reason: string };
}

/**
 * Walks the region's whole chain in the database (atlas_audit_verify, SECURITY DEFINER: the
 * chain spans every tenant) and returns the first event whose seq, prev_hash or own hash is
 * wrong. Reports ids and sequence numbers only, never an event's content.
 */
export async function verifyAuditChain(db: Executor): Promise<ChainReport> {
  const { rows } = await sql<{ checked: string; brokenSeq: string | null; brokenId: string | null; reason: string | null }>`
    SELECT checked, broken_seq, broken_id, reason FROM atlas_audit_verify()`.execute(db);
  const row = rows[0];
  const checked = Number(row?.checked ?? 0);
  if (!row || row.reason === null) return { checked, ok: true };
  return { checked, ok: false, broken: { seq: Number(row.brokenSeq), id: row.brokenId, reason: row.reason } };
}

export async function auditChainHead(db: Executor): Promise<{ seq: number; hash: string } | undefined> {
  const { rows } = await sql<{ seq: string; hash: string }>`SELECT seq, hash FROM atlas_audit_head()`.execute(db);
  return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : undefined;
}

export async function auditHashAt(db: Executor, seq: number): Promise<string | undefined> {
  const { rows } = await sql<{ hash: string | null }>`SELECT atlas_audit_hash_at(${seq}) AS hash`.execute(db);
  return rows[0]?.hash ?? undefined;
}

export interface AuditCheckpoint {
  readonly id: string;
  readonly region: string;
  readonly seq: number;
  readonly hash: string;
  readonly signedAt: string;
  readonly keyId: string;
  readonly signature: string;
}

/** The text a checkpoint's signature covers: region, position, hash and time, in that order. */
export function checkpointPayload(c: { region: string; seq: number; hash: string; signedAt: string }): string {
  return `atlas-audit-checkpoint\n${c.region}\n${c.seq}\n${c.hash}\n${c.signedAt}`;
}

export async function insertAuditCheckpoint(db: Executor, c: Omit<AuditCheckpoint, 'id'>): Promise<void> {
  await sql`INSERT INTO audit_checkpoint (region, seq, hash, signed_at, key_id, signature)
            VALUES (${c.region}, ${c.seq}, ${c.hash}, ${c.signedAt}, ${c.keyId}, ${c.signature})`.execute(db);
}

export async function listAuditCheckpoints(db: Executor): Promise<AuditCheckpoint[]> {
  const { rows } = await sql<{ id: string; region: string; seq: string; hash: string; signedAt: Date; keyId: string; signature: string }>`
    SELECT id, region, seq, hash, signed_at, key_id, signature FROM audit_checkpoint
    WHERE region = atlas_region() ORDER BY seq, id`.execute(db);
  return rows.map((r) => ({ ...r, id: String(r.id), seq: Number(r.seq), signedAt: new Date(r.signedAt).toISOString() }));
}

/** A short, stable name for a key: the first 16 hex digits of the SHA-256 of its public part. */
export function keyIdOf(key: Ed25519Jwk): string {
  return createHash('sha256').update(key.x).digest('hex').slice(0, 16);
}

/**
 * Signs the region's current chain head (Ed25519) and stores it as a checkpoint. Returns the
 * checkpoint, or undefined while the chain is empty or the head is already checkpointed.
 */
export async function writeAuditCheckpoint(db: Executor, signingKey: Ed25519Jwk, now: Date = new Date()): Promise<Omit<AuditCheckpoint, 'id'> | undefined> {
  const head = await auditChainHead(db);
  if (!head) return undefined;
  const { rows } = await sql<{ region: string }>`SELECT atlas_region() AS region`.execute(db);
  const region = rows[0]!.region;
  const last = (await listAuditCheckpoints(db)).at(-1);
  if (last && last.seq === head.seq && last.hash === head.hash) return undefined;
  const signedAt = now.toISOString();
  const key = createPrivateKey({ key: { ...signingKey }, format: 'jwk' });
  const signature = sign(null, Buffer.from(checkpointPayload({ region, seq: head.seq, hash: head.hash, signedAt })), key).toString('base64url');
  const checkpoint = { region, seq: head.seq, hash: head.hash, signedAt, keyId: keyIdOf(signingKey), signature };
  await insertAuditCheckpoint(db, checkpoint);
  return checkpoint;
}

export interface AuditTrailReport extends ChainReport {
  readonly checkpoints: number;
  /** The first checkpoint whose signature is wrong or whose event no longer has that hash. */
  readonly badCheckpoint?: { readonly id: string; readonly seq: number; readonly reason: string };
}

/**
 * The full verification: the chain itself (first broken or missing link), then every signed
 * checkpoint (signature valid under the public key, and the event at its seq still has the
 * hash it signed: a chain rewritten from some point on, hashes recomputed, fails here).
 */
export async function verifyAuditTrail(db: Executor, publicKey: Ed25519Jwk): Promise<AuditTrailReport> {
  const chain = await verifyAuditChain(db);
  const checkpoints = await listAuditCheckpoints(db);
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.x }, format: 'jwk' });
  for (const c of checkpoints) {
    const good = verify(null, Buffer.from(checkpointPayload(c)), key, Buffer.from(c.signature, 'base64url'));
    if (!good) return { ...chain, ok: false, checkpoints: checkpoints.length, badCheckpoint: { id: c.id, seq: c.seq, reason: 'signature does not verify' } };
    const now = await auditHashAt(db, c.seq);
    if (now !== c.hash) {
      return {
        ...chain,
        ok: false,
        checkpoints: checkpoints.length,
        badCheckpoint: { id: c.id, seq: c.seq, reason: now === undefined ? 'the checkpointed event is missing' : 'the checkpointed event no longer has the signed hash' },
      };
    }
  }
  return { ...chain, checkpoints: checkpoints.length };
}
