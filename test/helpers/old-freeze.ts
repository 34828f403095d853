/**
 * How dataset versions were frozen before migration 0006 (the code of shared/core/usecases/threshold.ts
 * and shared/core/datasets/freeze.ts at that time, reduced to its database and manifest effects):
 * every version stores its whole membership in `dataset_version_items`, and its v1 manifest lists
 * the previous version's members plus the accepted items, each with its newest accepted label.
 * Tests use it to build databases in the old layout and check that migrating keeps every version.
 */
import { labelDocument } from "../../shared/core/datasets/exports.ts";
import type { DatasetManifestV1, ManifestItemV1 } from "../../shared/core/datasets/manifest.ts";
import { splitOf } from "../../shared/core/datasets/split.ts";
import { canonicalJson, sha256Hex } from "../../shared/core/json.ts";
import type { CanonicalAnnotation } from "../../shared/core/annotation/canonical.ts";
import type { ItemAssets } from "../../shared/db/queries/items.ts";
import type { Db, ObjectStore } from "../../shared/ports.ts";

interface OldItem { id: string; product_name: string | null; width: number | null; height: number | null; assets: ItemAssets }
interface OldAnnotation { id: string; item_id: string; canonical: CanonicalAnnotation }

export async function oldFreeze(db: Db, store: ObjectStore, o: { line: string; classes: string[]; evalSplitPercent: number }): Promise<{ id: string; seq: number }> {
  const parent = (await db.query<{ id: string; seq: number }>(`SELECT id, seq FROM dataset_versions WHERE line = $1 ORDER BY seq DESC LIMIT 1`, [o.line])).rows[0];
  const candidates = (await db.query<{ id: string }>(`SELECT id FROM items WHERE state = 'accepted' ORDER BY id`)).rows.map((r) => r.id);
  const previous = parent ? (await db.query<{ item_id: string }>(`SELECT item_id FROM dataset_version_items WHERE version_id = $1 ORDER BY item_id`, [parent.id])).rows.map((r) => r.item_id) : [];
  const itemIds = [...new Set([...previous, ...candidates])];
  const annotations = new Map((await db.query<OldAnnotation>(
    `SELECT DISTINCT ON (item_id) id, item_id, canonical FROM annotations WHERE item_id = ANY($1::text[]) AND verdict = 'accepted'
     ORDER BY item_id, edited_at DESC, received_at DESC`, [itemIds])).rows.map((a) => [a.item_id, a]));
  const items = new Map((await db.query<OldItem>(`SELECT * FROM items WHERE id = ANY($1::text[])`, [itemIds])).rows.map((i) => [i.id, i]));
  const members = itemIds.filter((id) => items.has(id) && annotations.has(id)).sort((a, b) => a.localeCompare(b));

  const entries: ManifestItemV1[] = [];
  for (const id of members) {
    const item = items.get(id)!;
    const annotation = annotations.get(id)!.canonical;
    const width = item.width ?? annotation.image.width;
    const height = item.height ?? annotation.image.height;
    const images: ManifestItemV1["images"] = {};
    for (const role of ["rgb", "nir", "image"] as const) {
      const asset = item.assets[role];
      if (asset) images[role] = { uri: asset.uri, sha256: asset.sha256, width, height };
    }
    const label = labelDocument(annotation, "datasets");
    await store.put(label.uri, label.json, { ifAbsent: true });
    entries.push({
      itemId: id, split: splitOf(item.product_name ?? id, o.evalSplitPercent), images,
      nodata: item.assets.nodata ? { uri: item.assets.nodata.uri, sha256: item.assets.nodata.sha256 } : null,
      label: { uri: label.uri, sha256: label.sha256 }, provenance: annotation.provenance,
    });
  }
  const seq = (parent?.seq ?? 0) + 1;
  const manifest: DatasetManifestV1 = {
    schema: "dataset-manifest/v1", line: o.line, seq, parentId: parent?.id ?? null, task: "segmentation",
    classes: o.classes, evalSplitPercent: o.evalSplitPercent, items: entries,
  };
  const json = canonicalJson(manifest);
  const id = sha256Hex(json);
  const uri = `gs://datasets/${o.line}/${id}/manifest.json`;
  await store.put(uri, json);
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO dataset_versions (id, line, seq, parent_id, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'test')`,
      [id, o.line, seq, parent?.id ?? null, uri, entries.length, entries.filter((e) => e.split === "train").length,
        entries.filter((e) => e.split === "eval").length, candidates.length, JSON.stringify(o.classes)],
    );
    await tx.query(
      `INSERT INTO dataset_version_items (version_id, item_id, annotation_id, split)
       SELECT $1, m.item_id, m.annotation_id, m.split FROM jsonb_to_recordset($2::jsonb) AS m(item_id text, annotation_id text, split text)`,
      [id, JSON.stringify(entries.map((e) => ({ item_id: e.itemId, annotation_id: annotations.get(e.itemId)!.id, split: e.split })))],
    );
    await tx.query(`UPDATE items SET state = 'in_dataset', dataset_version_id = $1 WHERE id = ANY($2::text[]) AND state = 'accepted'`, [id, candidates]);
  });
  return { id, seq };
}
