import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { MANIFEST_PAGES_DIR, loadManifest, pageFileName } from "../../core/datasets/manifest-pages.ts";
import type { DatasetManifest } from "../../core/datasets/manifest.ts";
import { sha256Hex } from "../../core/json.ts";
import { PermanentError } from "../../errors.ts";
import type { ObjectStore } from "../../ports.ts";

/**
 * A checked-out manifest (`mlops data pull`'s folder, a trainer's DATA_DIR): `manifest.json` and,
 * for a v3 version, its pages in `manifest-pages/` beside it. A page missing there is read from
 * `store` when one is given (a manifest copied out of the workspace's buckets). An unreadable
 * `manifest.json` is `invalid_manifest`; a page missing or not what the manifest lists,
 * `corrupt_manifest`.
 */
export async function readManifestFile(path: string, store?: ObjectStore): Promise<{ manifest: DatasetManifest; versionId: string }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new PermanentError("invalid_manifest", `cannot read ${path}: ${(err as Error).message}`);
  }
  return loadManifest(raw, path, async (ref) => {
    try {
      return await readFile(join(dirname(path), MANIFEST_PAGES_DIR, pageFileName(ref)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      if (store) return store.get(ref.uri);
      throw new PermanentError("corrupt_manifest", `manifest page ${pageFileName(ref)} is not in ${join(dirname(path), MANIFEST_PAGES_DIR)}`);
    }
  });
}

/**
 * Copies a version's manifest out of the store into `dir`: `manifest.json` byte for byte and, for
 * v3, its pages into `manifest-pages/`, each checked against the SHA-256 the manifest lists
 * before it is written. Returns the manifest with its items and the bytes written.
 */
export async function checkOutManifest(store: ObjectStore, uri: string, dir: string): Promise<{ manifest: DatasetManifest; versionId: string; bytes: number; files: number }> {
  const document = await store.get(uri);
  let raw: unknown;
  try {
    raw = JSON.parse(document.toString("utf8"));
  } catch (err) {
    throw new PermanentError("invalid_manifest", `${uri} is not JSON: ${(err as Error).message}`);
  }
  let bytes = document.length;
  let files = 1;
  const pagesDir = join(dir, MANIFEST_PAGES_DIR);
  const loaded = await loadManifest(raw, uri, async (ref) => {
    const page = await store.get(ref.uri);
    if (sha256Hex(page) !== ref.sha256) return page; // loadManifest names the mismatch
    await mkdir(pagesDir, { recursive: true });
    await writeFile(join(pagesDir, pageFileName(ref)), page);
    bytes += page.length;
    files++;
    return page;
  });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "manifest.json"), document);
  return { ...loaded, bytes, files };
}
