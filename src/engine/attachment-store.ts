import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Attachment bytes, content-addressed by SHA-256 under `<dataDir>/attachments/`. Files are
 * written to a temporary name and renamed, so a crash never leaves a torn file under a hash.
 * (With PostgreSQL and several replicas the directory must be shared storage.)
 */
export interface AttachmentStore {
  put(sha256: string, bytes: Buffer): Promise<void>;
  get(sha256: string): Promise<Buffer>;
}

export function fileAttachmentStore(dir: string): AttachmentStore {
  const pathOf = (sha: string): string => {
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`not a sha256: ${sha}`);
    return join(dir, sha.slice(0, 2), sha);
  };
  return {
    async put(sha, bytes) {
      const file = pathOf(sha);
      try {
        await stat(file);
        return; // already there: same content by construction
      } catch {
        // not there yet
      }
      await mkdir(join(dir, sha.slice(0, 2)), { recursive: true });
      const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, file);
    },
    get(sha) {
      return readFile(pathOf(sha));
    },
  };
}
