import type { Queryable } from "../../ports.ts";

export interface ArchiveObjectKey {
  name: string;
  generation: string;
}

/**
 * Of one page of archive objects, those no item was made from yet. The comparison runs in SQL on
 * the items' unique source key, so a caller pages through a listing without ever loading every
 * known key.
 */
export async function unknownArchiveObjects<T extends ArchiveObjectKey>(db: Queryable, bucket: string, objects: readonly T[]): Promise<T[]> {
  if (objects.length === 0) return [];
  const { rows } = await db.query<{ i: number }>(
    `SELECT o.i FROM jsonb_to_recordset($2::jsonb) AS o(i int, name text, generation text)
     WHERE NOT EXISTS (SELECT 1 FROM items it WHERE it.source_bucket = $1 AND it.source_name = o.name AND it.source_generation = o.generation)
     ORDER BY o.i`,
    [bucket, JSON.stringify(objects.map((o, i) => ({ i, name: o.name, generation: o.generation })))],
  );
  return rows.map((r) => objects[r.i]!);
}
