import { expect } from "vitest";
import { StoredManifestSchema, type DatasetManifest } from "../../shared/core/datasets/manifest.ts";
import { canonicalJson, sha256Hex } from "../../shared/core/json.ts";
import { readStoredManifest } from "../../shared/core/evaluation/samples.ts";
import type { ObjectStore } from "../../shared/ports.ts";

/**
 * A stored version's manifest with its items, after checking what every version promises: the
 * document is canonical JSON whose SHA-256 is the version id, and (v3) every page it lists is
 * there with the SHA-256 it lists.
 */
export async function readVersionManifest(store: ObjectStore, uri: string, versionId: string): Promise<DatasetManifest> {
  const text = (await store.get(uri)).toString("utf8");
  expect(sha256Hex(text)).toBe(versionId);
  expect(canonicalJson(StoredManifestSchema.parse(JSON.parse(text)))).toBe(text);
  const { manifest, versionId: id } = await readStoredManifest(store, uri);
  expect(id).toBe(versionId);
  return manifest;
}

/** Item ids in byte order (a v3 manifest lists them page by page). */
export function sortedIds(items: readonly { itemId: string }[]): string[] {
  return items.map((i) => i.itemId).sort();
}
