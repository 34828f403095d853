import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { PermanentError } from "../../errors.ts";
import type { ObjectStore } from "../../ports.ts";
import { forEachLimited } from "./limit.ts";

/**
 * Downloads of a dataset version's objects, each checked against the SHA-256 its manifest names:
 * a version is immutable, so an object that changed underneath it is corruption, not news. Shared
 * by the training job (which materialises DATA_DIR) and `mlops dataset pull`.
 */

/** Downloads in flight at once: enough to hide latency, few enough to stay polite to GCS. */
export const DOWNLOAD_CONCURRENCY = 8;

export interface Download {
  uri: string;
  path: string;
  /** The manifest's hash; null for files a v1 version listed without one. */
  sha256: string | null;
}

const SAFE_ITEM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Item ids become path segments: refuse anything that could climb out of the target folder. */
export function assertSafeItemId(itemId: string): string {
  if (!SAFE_ITEM_ID.test(itemId) || itemId.includes("..")) {
    throw new PermanentError("unsafe_item_id", `item id ${JSON.stringify(itemId)} cannot be used as a file name`);
  }
  return itemId;
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

/**
 * Downloads every file (at most DOWNLOAD_CONCURRENCY at once) and verifies its hash; rejects with
 * `dataset_corrupt` naming the first object whose bytes differ. `onFile` is told after each file.
 */
export async function downloadVerified(
  store: ObjectStore,
  downloads: readonly Download[],
  onFile?: (download: Download, bytes: number) => void,
): Promise<void> {
  await forEachLimited(downloads, DOWNLOAD_CONCURRENCY, async (d) => {
    await mkdir(dirname(d.path), { recursive: true });
    await store.download(d.uri, d.path);
    if (d.sha256 !== null) {
      const actual = await sha256OfFile(d.path);
      if (actual !== d.sha256) {
        throw new PermanentError("dataset_corrupt", `${d.uri} has SHA-256 ${actual.slice(0, 12)}…, the manifest says ${d.sha256.slice(0, 12)}…`);
      }
    }
    if (onFile) onFile(d, (await stat(d.path)).size);
  });
}
