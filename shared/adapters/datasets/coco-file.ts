import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { once } from "node:events";
import { CanonicalAnnotationSchema } from "../../core/annotation/canonical.ts";
import { toCoco } from "../../core/annotation/coco.ts";
import type { Ontology } from "../../core/annotation/ontology.ts";

/**
 * Writes a COCO file for the materialised items, streamed: one item's label is in memory at a
 * time (two passes over the label files: images, then annotations), so a dataset of any size
 * exports in bounded memory. Ids are numbered as `toCoco` numbers them for the whole list.
 */
export async function writeCocoFile(
  path: string,
  items: readonly { itemId: string; fileName: string; labelPath: string }[],
  ontology: Ontology,
): Promise<void> {
  const out = createWriteStream(path);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, "drain");
  };
  const load = async (item: { itemId: string; fileName: string; labelPath: string }) => {
    const annotation = CanonicalAnnotationSchema.parse(JSON.parse(await readFile(item.labelPath, "utf8")));
    return toCoco([{ ...annotation, itemId: item.itemId }], ontology, [{ itemId: item.itemId, fileName: item.fileName }]);
  };
  try {
    const empty = toCoco([], ontology, []);
    await write(`{"info":${JSON.stringify(empty.info)},"categories":${JSON.stringify(empty.categories)},"images":[`);
    for (const [index, item] of items.entries()) {
      const image = (await load(item)).images[0]!;
      await write(`${index ? "," : ""}${JSON.stringify({ ...image, id: index + 1 })}`);
    }
    await write(`],"annotations":[`);
    let annotationId = 0;
    for (const [index, item] of items.entries()) {
      for (const annotation of (await load(item)).annotations) {
        await write(`${annotationId ? "," : ""}${JSON.stringify({ ...annotation, id: ++annotationId, image_id: index + 1 })}`);
      }
    }
    await write("]}");
  } finally {
    out.end();
    await once(out, "close");
  }
}
