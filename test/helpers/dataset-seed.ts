/**
 * Accepted samples as ingest and poll leave them (plain SQL and store writes), for dataset tests:
 * an item with RGB/NIR renderings and, optionally, a nodata mask, and an accepted label.
 */
import { sharpCodec } from "../../shared/adapters/imaging/codec.ts";
import { DEFAULT_ONTOLOGY } from "../../shared/config/schema.ts";
import { sha256Hex } from "../../shared/core/json.ts";
import type { Db, ObjectStore } from "../../shared/ports.ts";

export const SAMPLE_W = 6;
export const SAMPLE_H = 4;

export async function seedSample(db: Db, store: ObjectStore, id: string, options: { nodata?: boolean } = {}): Promise<void> {
  const assets: Record<string, { uri: string; sha256: string }> = {};
  for (const role of ["rgb", "nir"] as const) {
    const uri = `gs://annotation/items/p-${id}/p-${id}_${role}.png`;
    assets[role] = { uri, sha256: sha256Hex(`${id}:${role}`) };
  }
  if (options.nodata) {
    // The top row has no data.
    const data = new Uint8Array(SAMPLE_W * SAMPLE_H);
    data.fill(255, 0, SAMPLE_W);
    const png = await sharpCodec.encodePng({ width: SAMPLE_W, height: SAMPLE_H, channels: 1, data });
    const uri = `gs://annotation/masks/nodata/${id}.png`;
    await store.put(uri, png);
    assets.nodata = { uri, sha256: sha256Hex(png) };
  }
  await db.query(
    `INSERT INTO items (id, source_bucket, source_name, source_generation, kind, product_name, state, width, height, assets)
     VALUES ($1, 'archive', $2, '1', 'product', $3, 'accepted', $4, $5, $6)`,
    [id, `p-${id}.zip`, `p-${id}`, SAMPLE_W, SAMPLE_H, JSON.stringify(assets)],
  );
  await acceptLabel(db, id, 1);
}

/** A new accepted label revision for an item (the item goes back to `accepted`, as poll does). */
export async function acceptLabel(db: Db, id: string, revision: number): Promise<string> {
  const editedAt = new Date(Date.UTC(2026, 0, 1, 0, 0, revision)).toISOString();
  const land = DEFAULT_ONTOLOGY.indexOf("Clear");
  const water = DEFAULT_ONTOLOGY.indexOf("Cloud");
  // Revision r paints the left r columns Cloud, the rest Clear.
  const canonical = {
    schema: "canonical-annotation/v1",
    itemId: id,
    image: { width: SAMPLE_W, height: SAMPLE_H },
    objects: [
      { id: "land", kind: "polygon", classId: land, className: "Clear", polygon: [[0, 0, SAMPLE_W, 0, SAMPLE_W, SAMPLE_H, 0, SAMPLE_H]] },
      { id: "water", kind: "polygon", classId: water, className: "Cloud", polygon: [[0, 0, revision, 0, revision, SAMPLE_H, 0, SAMPLE_H]] },
    ],
    classifications: [],
    provenance: { backend: "local", labelId: `inbox/${id}.json`, annotator: "tester", editedAt },
  };
  const annotationId = `an_${id}_r${revision}`;
  await db.query(
    `INSERT INTO annotations (id, item_id, backend, label_id, annotator, edited_at, canonical, canonical_sha256, verdict, reasons)
     VALUES ($1, $2, 'local', $3, 'tester', $4, $5, $6, 'accepted', '[]')`,
    [annotationId, id, `inbox/${id}.json`, editedAt, JSON.stringify(canonical), "0".repeat(64)],
  );
  await db.query(`UPDATE items SET state = 'accepted' WHERE id = $1`, [id]);
  return annotationId;
}
