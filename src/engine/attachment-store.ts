import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Attachment bytes, content-addressed by SHA-256 under `<dataDir>/attachments/`. Files are
 * written to a temporary name and renamed, so a crash never leaves a torn file under a hash.
 * (With PostgreSQL and several replicas the directory must be shared storage.)
 */
export interface AttachmentStore {
  put(sha256: string, bytes: Buffer): Promise<void>;
  get(sha256: string): Promise<Buffer>;
  /**
   * Streams an upload to a temporary file, hashing it on the way. Nothing is under a hash until
   * `commit()`; `discard()` (and any failure of the stream, including the limit) removes the
   * temporary file.
   */
  stage(source: Readable, opts?: { maxBytes?: number }): Promise<StagedBlob>;
  /**
   * Removes blobs no row references (asked through `referenced`) and temporary files, both only
   * when older than `minAgeMs`, so a write in flight is never taken. Returns how many went.
   */
  collectGarbage(referenced: (sha256s: string[]) => Promise<Set<string>>, opts: { minAgeMs: number }): Promise<number>;
}

export interface StagedBlob {
  sha256: string;
  size: number;
  /** Moves the bytes under their hash (kept as they are when the same content is already there). */
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/** The staged bytes are over `limit` (the temporary file is already gone). */
export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the upload is larger than ${limit} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

const SHA = /^[0-9a-f]{64}$/;
const TMP_DIR = 'tmp';

export function fileAttachmentStore(dir: string): AttachmentStore {
  const pathOf = (sha: string): string => {
    if (!SHA.test(sha)) throw new Error(`not a sha256: ${sha}`);
    return join(dir, sha.slice(0, 2), sha);
  };
  /** Whether the blob is there; if so its time is renewed, so a collection running now keeps it. */
  const touchIfPresent = async (file: string): Promise<boolean> => {
    try {
      const t = new Date();
      await utimes(file, t, t);
      return true;
    } catch {
      return false;
    }
  };
  const removeQuietly = (file: string): Promise<void> => unlink(file).catch(() => undefined);

  return {
    async put(sha, bytes) {
      const file = pathOf(sha);
      if (await touchIfPresent(file)) return; // already there: same content by construction
      await mkdir(join(dir, sha.slice(0, 2)), { recursive: true });
      const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await writeFile(tmp, bytes);
        await rename(tmp, file);
      } catch (err) {
        await removeQuietly(tmp);
        throw err;
      }
    },
    get(sha) {
      return readFile(pathOf(sha));
    },
    async stage(source, opts = {}) {
      await mkdir(join(dir, TMP_DIR), { recursive: true });
      const tmp = join(dir, TMP_DIR, `${randomBytes(8).toString('hex')}.tmp`);
      const hash = createHash('sha256');
      let size = 0;
      const limit = opts.maxBytes ?? Infinity;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          if (size > limit) {
            cb(new BlobTooLargeError(limit));
            return;
          }
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(source, meter, createWriteStream(tmp, { flags: 'wx' }));
      } catch (err) {
        await removeQuietly(tmp);
        throw err;
      }
      const sha256 = hash.digest('hex');
      let settled = false;
      return {
        sha256,
        size,
        async commit() {
          if (settled) return;
          settled = true;
          const file = pathOf(sha256);
          if (await touchIfPresent(file)) {
            await removeQuietly(tmp);
            return;
          }
          await mkdir(join(dir, sha256.slice(0, 2)), { recursive: true });
          try {
            await rename(tmp, file);
          } catch (err) {
            await removeQuietly(tmp);
            throw err;
          }
        },
        async discard() {
          if (settled) return;
          settled = true;
          await removeQuietly(tmp);
        },
      };
    },
    async collectGarbage(referenced, { minAgeMs }) {
      const cutoff = Date.now() - minAgeMs;
      const oldEnough = async (file: string): Promise<boolean> => {
        try {
          return (await stat(file)).mtimeMs <= cutoff;
        } catch {
          return false;
        }
      };
      let removed = 0;
      let subdirs: string[];
      try {
        subdirs = await readdir(dir);
      } catch {
        return 0; // nothing stored yet
      }
      const candidates: Array<{ file: string; sha: string | null }> = [];
      for (const sub of subdirs) {
        const isTmp = sub === TMP_DIR;
        if (!isTmp && !/^[0-9a-f]{2}$/.test(sub)) continue;
        let names: string[];
        try {
          names = await readdir(join(dir, sub));
        } catch {
          continue;
        }
        for (const name of names) {
          const file = join(dir, sub, name);
          if (isTmp || name.endsWith('.tmp')) {
            if (name.endsWith('.tmp')) candidates.push({ file, sha: null });
          } else if (SHA.test(name) && name.startsWith(sub)) candidates.push({ file, sha: name });
        }
      }
      const old: typeof candidates = [];
      for (const c of candidates) if (await oldEnough(c.file)) old.push(c);
      const shas = old.flatMap((c) => (c.sha ? [c.sha] : []));
      const keep = new Set<string>();
      for (let i = 0; i < shas.length; i += 500) for (const s of await referenced(shas.slice(i, i + 500))) keep.add(s);
      for (const c of old) {
        if (c.sha && keep.has(c.sha)) continue;
        // Checked again just before: a write that reused the blob since renewed its time.
        if (!(await oldEnough(c.file))) continue;
        try {
          await unlink(c.file);
          removed++;
        } catch {
          // gone already (another replica collected it)
        }
      }
      return removed;
    },
  };
}
