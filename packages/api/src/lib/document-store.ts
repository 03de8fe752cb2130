import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Document bodies in the region's own folder, encrypted at rest with AES-256-GCM under the
 * region's key. The organization and document ids are the additional authenticated data,
 * so a file copied under another record's name fails to decrypt instead of leaking.
 */
export class DocumentStore {
  constructor(
    readonly root: string,
    private readonly key: Buffer,
  ) {
    if (key.length !== 32) throw new Error('document key must be 32 bytes (AES-256)');
  }

  private path(orgId: string, documentId: string): string {
    return join(this.root, orgId, `${documentId}.bin`);
  }

  async put(orgId: string, documentId: string, body: Buffer): Promise<void> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${orgId}/${documentId}`));
    const sealed = Buffer.concat([iv, Buffer.alloc(TAG_BYTES), cipher.update(body), cipher.final()]);
    cipher.getAuthTag().copy(sealed, IV_BYTES);
    const target = this.path(orgId, documentId);
    await mkdir(join(this.root, orgId), { recursive: true });
    // Write then rename: a crash never leaves a half-written body under the real name.
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, sealed, { mode: 0o600 });
    await rename(temp, target);
  }

  /** The decrypted body, or undefined when none was uploaded. */
  async get(orgId: string, documentId: string): Promise<Buffer | undefined> {
    let sealed: Buffer;
    try {
      sealed = await readFile(this.path(orgId, documentId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(`${orgId}/${documentId}`));
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  }

  async delete(orgId: string, documentId: string): Promise<void> {
    await rm(this.path(orgId, documentId), { force: true });
  }
}
