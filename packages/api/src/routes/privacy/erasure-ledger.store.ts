import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseLedgerEntry, parseLedgerFile, regionDir, replayErasureLedger, type LedgerEntry, type ReplayReport } from '@atlas/db';
import type { ApiConfig } from '../../config';
import { bodyStoreFor } from '../../lib/body-store';
import { callS3, createS3Client, s3StatusOf, type S3BucketOptions } from '../../lib/s3-client';

/** A ledger entry as recorded: the erasure_ledger row's id and time are the copy's too. */
export type RecordedLedgerEntry = LedgerEntry & { readonly id: string; readonly erasedAt: string };

/**
 * The erasure ledger's copy outside the region's database: what a restore from backup
 * replays, so it must outlive both the database being restored and the API task. The API
 * appends before the erasure commits (see privacy.service.ts for the order).
 */
export interface ErasureLedgerCopy {
  /** For logs and reports: `file:///…` or `s3://bucket/ledger/<region>/`. */
  readonly location: string;
  /** Resolves once the entry is durably stored; throws (nothing to retract) otherwise. */
  append(entry: RecordedLedgerEntry): Promise<void>;
  /** Takes back an entry whose erasure did not commit. Idempotent. */
  withdraw(entryId: string): Promise<void>;
  /** Every entry, and the records (file lines, object keys) that are not entries. */
  readAll(): Promise<{ entries: LedgerEntry[]; unreadable: string[] }>;
  close(): void;
}

/** The local cluster's copy: one JSON line per erasure in `<ATLAS_HOME>/<region>/erasure-ledger.jsonl`. */
export class FileLedgerCopy implements ErasureLedgerCopy {
  /** Per file, across the copies of a process (several apps of one region in tests): appends and withdrawals one at a time, since a withdrawal rewrites the file. */
  private static readonly queues = new Map<string, Promise<unknown>>();

  constructor(readonly file: string) {}

  get location(): string {
    return `file://${this.file}`;
  }

  append(entry: RecordedLedgerEntry): Promise<void> {
    return this.serial(async () => {
      await mkdir(join(this.file, '..'), { recursive: true });
      const handle = await open(this.file, 'a', 0o600);
      try {
        await handle.appendFile(`${JSON.stringify(entry)}\n`);
        // On disk before the erasure commits: a crash right after the commit must not lose it.
        await handle.datasync();
      } finally {
        await handle.close();
      }
    });
  }

  withdraw(entryId: string): Promise<void> {
    return this.serial(async () => {
      const text = await this.text();
      const kept = text.split('\n').filter((line) => line.trim() !== '' && parseLedgerEntry(line)?.id !== entryId);
      if (kept.length === text.split('\n').filter((line) => line.trim() !== '').length) return;
      const temp = `${this.file}.${process.pid}.tmp`;
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(kept.map((line) => `${line}\n`).join(''));
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.file);
    });
  }

  async readAll(): Promise<{ entries: LedgerEntry[]; unreadable: string[] }> {
    return parseLedgerFile(await this.text());
  }

  close(): void {
    // Nothing held open between calls.
  }

  private async text(): Promise<string> {
    return readFile(this.file, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = (FileLedgerCopy.queues.get(this.file) ?? Promise.resolve()).then(run);
    const settled = next.catch(() => undefined);
    FileLedgerCopy.queues.set(this.file, settled);
    // Forget an idle file's queue.
    void settled.then(() => FileLedgerCopy.queues.get(this.file) === settled && FileLedgerCopy.queues.delete(this.file));
    return next;
  }
}

export interface S3LedgerCopyOptions extends S3BucketOptions {
  /** The region whose erasures these are: keys are `ledger/<prefix>/<entry id>.json`. */
  readonly prefix: string;
  /** Keys per ListObjectsV2 page (S3 answers at most 1000). */
  readonly pageSize?: number;
}

/**
 * The region's documents bucket (ATLAS_DOCUMENTS_BUCKET), under `ledger/<region>/`: one object
 * per erasure, named by the ledger row's id, so two tasks appending at once never touch the
 * same object, and a restore lists them all. It lives outside RDS and its snapshots, in the
 * region's own jurisdiction, and survives the replacement of every task.
 */
export class S3LedgerCopy implements ErasureLedgerCopy {
  private readonly client: S3Client;

  constructor(private readonly options: S3LedgerCopyOptions) {
    this.client = createS3Client(options);
  }

  get location(): string {
    return `s3://${this.options.bucket}/${this.prefix}`;
  }

  /** `ledger/<region>/`: the listing prefix. */
  get prefix(): string {
    return `ledger/${this.options.prefix}/`;
  }

  keyOf(entryId: string): string {
    return `${this.prefix}${entryId}.json`;
  }

  async append(entry: RecordedLedgerEntry): Promise<void> {
    await this.call('append', async () => {
      try {
        // If-None-Match: an entry is never overwritten. The key is the entry's own (uuidv7) id,
        // so a 412 can only mean that an earlier attempt of this same write was stored and its
        // answer lost (the SDK retried): the entry is there.
        await this.client.send(
          new PutObjectCommand({ Bucket: this.options.bucket, Key: this.keyOf(entry.id), Body: JSON.stringify(entry), ContentType: 'application/json', IfNoneMatch: '*' }),
        );
      } catch (err) {
        if (s3StatusOf(err) !== 412) throw err;
      }
    });
  }

  async withdraw(entryId: string): Promise<void> {
    await this.call('withdraw', () => this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.keyOf(entryId) })));
  }

  async readAll(): Promise<{ entries: LedgerEntry[]; unreadable: string[] }> {
    return this.call('read', async () => {
      const entries: LedgerEntry[] = [];
      const unreadable: string[] = [];
      let token: string | undefined;
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.prefix, ...(this.options.pageSize ? { MaxKeys: this.options.pageSize } : {}), ...(token ? { ContinuationToken: token } : {}) }),
        );
        for (const { Key: key } of page.Contents ?? []) {
          if (!key) continue;
          const out = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
          const entry = parseLedgerEntry(out.Body ? await out.Body.transformToString('utf8') : '');
          if (entry) entries.push(entry);
          else unreadable.push(key);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return { entries, unreadable };
    });
  }

  close(): void {
    this.client.destroy();
  }

  /** As the body store: a bucket that refuses or cannot be reached is a 503 the caller may retry; the cause goes to the log. */
  private call<T>(what: string, run: () => Promise<T>): Promise<T> {
    return callS3(`erasure ledger ${what}`, this.location, 'the erasure ledger store is unavailable; retry shortly', run);
  }
}

/** The local file of a region's ledger copy. */
export function ledgerFileOf(config: Pick<ApiConfig, 'home' | 'region'>): string {
  return join(regionDir(config.home, config.region.id), 'erasure-ledger.jsonl');
}

/**
 * Where a region's API keeps its ledger copy: the documents bucket when configured (AWS,
 * where ATLAS_HOME is lost with the task), else the file under ATLAS_HOME (the local cluster).
 */
export function erasureLedgerCopyFor(config: Pick<ApiConfig, 'home' | 'region' | 'documentsBucket'>, options: { pageSize?: number } = {}): ErasureLedgerCopy {
  const bucket = config.documentsBucket;
  if (!bucket) return new FileLedgerCopy(ledgerFileOf(config));
  return new S3LedgerCopy({ ...bucket, prefix: config.region.id, ...options });
}

export interface RegionReplayReport extends ReplayReport {
  /** Where the ledger copy was read. */
  readonly location: string;
  /** File lines or object keys that are not ledger entries: replayed without them, to be looked at. */
  readonly unreadable: readonly string[];
}

/**
 * The whole post-restore step for one region, from its API configuration: reads the ledger
 * copy (bucket or file), brings the restored erasure_ledger table up to date, erases again what
 * the restore brought back, and removes restored bodies from the region's body store.
 */
export async function replayRegionErasureLedger(
  config: Pick<ApiConfig, 'home' | 'region' | 'documentsBucket' | 'blindIndexKey'>,
  adminUrl: string,
  options: { pageSize?: number } = {},
): Promise<RegionReplayReport> {
  const copy = erasureLedgerCopyFor(config, options);
  const bodies = bodyStoreFor(config);
  try {
    const { entries, unreadable } = await copy.readAll();
    const report = await replayErasureLedger(adminUrl, { entries, blindIndexKey: config.blindIndexKey, removeBody: (orgId, id) => bodies.remove(orgId, id) });
    return { ...report, location: copy.location, unreadable };
  } finally {
    copy.close();
    bodies.close();
  }
}
