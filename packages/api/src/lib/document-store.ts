import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SealedBodyStore } from './body-store';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Document bodies, encrypted at rest with AES-256-GCM under the region's key before they reach
 * the body store (the region's folder locally, its S3 bucket in AWS). The organization and
 * document ids are the additional authenticated data, so bytes copied under another record's
 * name fail to decrypt instead of leaking.
 */
export class DocumentStore {
  constructor(
    /** Where the sealed bytes live (lib/body-store.ts); never sees a plaintext body. */
    readonly bodies: SealedBodyStore,
    private readonly key: Buffer,
  ) {
    if (key.length !== 32) throw new Error('document key must be 32 bytes (AES-256)');
  }

  async put(orgId: string, documentId: string, body: Buffer): Promise<void> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${orgId}/${documentId}`));
    const sealed = Buffer.concat([iv, Buffer.alloc(TAG_BYTES), cipher.update(body), cipher.final()]);
    cipher.getAuthTag().copy(sealed, IV_BYTES);
    await this.bodies.write(orgId, documentId, sealed);
  }

  /** The decrypted body, or undefined when none was uploaded. */
  async get(orgId: string, documentId: string): Promise<Buffer | undefined> {
    const sealed = await this.bodies.read(orgId, documentId);
    if (!sealed) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(`${orgId}/${documentId}`));
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  }

  async delete(orgId: string, documentId: string): Promise<void> {
    await this.bodies.remove(orgId, documentId);
  }
}
