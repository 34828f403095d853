/**
 * Writes the label part of the malformed-input corpus to test/fixtures/corpus/labels/ and its table
 * to test/fixtures/corpus/labels.json: label files of every format the folder inbox takes (Encord
 * label rows, COCO), well-formed and broken, each with what `poll` must do with it. Each case's
 * file is named after the item it labels (`<title>.json`); the test registers one 16×16 item per
 * case (with a nodata border when `nodata` is set) and polls them all at once.
 * Deterministic: running it again rewrites the same bytes.
 *
 *   node --import tsx scripts/make-label-corpus.ts
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { toCoco } from "../shared/core/annotation/coco.ts";
import { fromSemanticRaster } from "../shared/core/annotation/mask-png.ts";
import { ontologyFromNames } from "../shared/core/annotation/ontology.ts";
import { toEncordLabelRow } from "../shared/core/annotation/encord-label-row-write.ts";
import { DEFAULT_ONTOLOGY } from "../shared/config/schema.ts";

export const SIZE = 16;
const ontology = ontologyFromNames(DEFAULT_ONTOLOGY);
const root = fileURLToPath(new URL("../test/fixtures/corpus/", import.meta.url));

export interface LabelCase {
  id: string;
  category: "label";
  format: "encord" | "coco" | "unknown";
  file: string;
  /** The item the file labels (a title); `null` when the file names no item we have. */
  item: string | null;
  /** The item has a nodata border (one pixel wide) the label must leave Fill or unlabelled. */
  nodata?: boolean;
  expect: { outcome: "accepted" | "rejected" | "unmatched"; reason?: string };
  why: string;
}

/** Clear everywhere, a Cloud square in the middle; Fill on the border when the item has nodata. */
function raster(nodata: boolean): Uint8Array {
  const data = new Uint8Array(SIZE * SIZE).fill(1);
  for (let y = 5; y < 11; y++) for (let x = 5; x < 11; x++) data[y * SIZE + x] = 2;
  if (nodata) for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) if (x === 0 || y === 0 || x === SIZE - 1 || y === SIZE - 1) data[y * SIZE + x] = 0;
  return data;
}

function encordRow(title: string, nodata = false, edit?: (data: Uint8Array) => void): Record<string, unknown> {
  const data = raster(nodata);
  edit?.(data);
  const provenance = { backend: "local", labelId: `lbl-${title}`, annotator: "corpus@labels.test", editedAt: "2026-01-02T03:04:05.000Z" };
  const annotation = fromSemanticRaster({ width: SIZE, height: SIZE, data }, { itemId: title, ontology, provenance, background: 256 });
  const row = toEncordLabelRow(annotation, ontology, { labelHash: `lbl-${title}`, dataHash: `data-${title}`, dataTitle: title, dataType: "image" });
  return row;
}

type Units = Record<string, { labels?: { objects?: Record<string, unknown>[] } }>;
function objectsOf(row: Record<string, unknown>): Record<string, unknown>[] {
  const unit = Object.values(row.data_units as Units)[0]!;
  unit.labels ??= {};
  unit.labels.objects ??= [];
  return unit.labels.objects;
}

function coco(title: string, edit?: (doc: Record<string, unknown>) => void): Record<string, unknown> {
  const provenance = { backend: "local", labelId: `coco-${title}`, annotator: "corpus@labels.test", editedAt: "2026-01-02T03:04:05.000Z" };
  const annotation = fromSemanticRaster({ width: SIZE, height: SIZE, data: raster(false) }, { itemId: title, ontology, provenance, background: 256 });
  const doc = toCoco([annotation], ontology, [{ itemId: title, fileName: `${title}_rgb.png` }]) as unknown as Record<string, unknown>;
  edit?.(doc);
  return doc;
}

const text = (value: unknown) => `${JSON.stringify(value, null, 1)}\n`;

export const LABEL_CASES: (LabelCase & { content: () => string })[] = [
  { id: "label-encord-valid", category: "label", format: "encord", file: "labels/label-encord-valid.json", item: "label-encord-valid",
    expect: { outcome: "accepted" }, why: "a well-formed Encord label row: the harness accepts good labels",
    content: () => text(encordRow("label-encord-valid")) },
  { id: "label-encord-valid-fill-on-nodata", category: "label", format: "encord", file: "labels/label-encord-valid-fill-on-nodata.json", item: "label-encord-valid-fill-on-nodata", nodata: true,
    expect: { outcome: "accepted" }, why: "nodata painted Fill, as the seed's annotators do",
    content: () => text(encordRow("label-encord-valid-fill-on-nodata", true)) },
  { id: "label-encord-cloud-on-nodata", category: "label", format: "encord", file: "labels/label-encord-cloud-on-nodata.json", item: "label-encord-cloud-on-nodata", nodata: true,
    expect: { outcome: "rejected", reason: "nodata" }, why: "cloud painted over the nodata border",
    content: () => text(encordRow("label-encord-cloud-on-nodata", true, (d) => d.forEach((v, i) => { if (v === 0) d[i] = 2; }))) },
  { id: "label-encord-unknown-class", category: "label", format: "encord", file: "labels/label-encord-unknown-class.json", item: "label-encord-unknown-class",
    expect: { outcome: "rejected", reason: "Snow" }, why: "an object of a class the ontology does not have",
    content: () => {
      const row = encordRow("label-encord-unknown-class");
      const first = objectsOf(row)[0]!;
      objectsOf(row).push({ ...first, name: "Snow", value: "snow", featureHash: "feat-snow", objectHash: "obj-snow" });
      return text(row);
    } },
  { id: "label-encord-mask-too-tall", category: "label", format: "encord", file: "labels/label-encord-mask-too-tall.json", item: "label-encord-mask-too-tall",
    expect: { outcome: "rejected", reason: "mask size does not equal image size" }, why: "a bitmask one row taller than the image cannot be placed in the frame",
    content: () => {
      const row = encordRow("label-encord-mask-too-tall");
      const bitmask = objectsOf(row).find((o) => o.bitmask)!.bitmask as { height: number };
      bitmask.height = SIZE + 1;
      return text(row);
    } },
  { id: "label-encord-rle-garbage", category: "label", format: "encord", file: "labels/label-encord-rle-garbage.json", item: "label-encord-rle-garbage",
    expect: { outcome: "rejected", reason: "could not be read" }, why: "an RLE string that is not COCO compressed RLE",
    content: () => {
      const row = encordRow("label-encord-rle-garbage");
      (objectsOf(row).find((o) => o.bitmask)!.bitmask as { rleString: string }).rleString = "\u0000\u0001 not rle ~~~~~~~~~~~~~~~~~~~~~~~~~~";
      return text(row);
    } },
  { id: "label-encord-rle-too-long", category: "label", format: "encord", file: "labels/label-encord-rle-too-long.json", item: "label-encord-rle-too-long",
    expect: { outcome: "rejected", reason: "could not be read" }, why: "run lengths that cover more pixels than the bitmask holds",
    content: () => {
      const row = encordRow("label-encord-rle-too-long");
      (objectsOf(row).find((o) => o.bitmask)!.bitmask as { width: number; height: number }).width = 2;
      (objectsOf(row).find((o) => o.bitmask)!.bitmask as { width: number; height: number }).height = 2;
      return text(row);
    } },
  { id: "label-encord-no-data-units", category: "label", format: "encord", file: "labels/label-encord-no-data-units.json", item: "label-encord-no-data-units",
    expect: { outcome: "rejected", reason: "could not be read" }, why: "a label row without data units",
    content: () => text({ label_hash: "lbl-no-units", data_title: "label-encord-no-data-units", data_type: "image" }) },
  { id: "label-encord-point-of-other-class", category: "label", format: "encord", file: "labels/label-encord-point-of-other-class.json", item: "label-encord-point-of-other-class",
    expect: { outcome: "accepted" }, why: "a point of a class that is not ours is skipped with a note, not a reason to reject the row",
    content: () => {
      const row = encordRow("label-encord-point-of-other-class");
      objectsOf(row).push({ name: "Airplane", value: "airplane", shape: "point", featureHash: "feat-plane", objectHash: "obj-plane", point: { "0": { x: 0.5, y: 0.5 } },
        createdBy: "corpus@labels.test", createdAt: "Fri, 02 Jan 2026 03:04:05 UTC", confidence: 1, manualAnnotation: true });
      return text(row);
    } },
  { id: "label-encord-unmatched-title", category: "label", format: "encord", file: "labels/label-encord-unmatched-title.json", item: null,
    expect: { outcome: "unmatched" }, why: "a label for an item we never registered is dead-lettered, not guessed",
    content: () => text(encordRow("no-such-item-anywhere")) },
  { id: "label-not-json", category: "label", format: "unknown", file: "labels/label-not-json.json", item: "label-not-json",
    expect: { outcome: "rejected", reason: "could not be read" }, why: "a file that is not JSON",
    content: () => "{ \"label_hash\": \"cut off" },
  { id: "label-unknown-format", category: "label", format: "unknown", file: "labels/label-unknown-format.json", item: "label-unknown-format",
    expect: { outcome: "rejected", reason: "neither an Encord label row nor a COCO file" }, why: "JSON in no format we know",
    content: () => text({ annotations_v3: [] }) },
  { id: "label-coco-valid", category: "label", format: "coco", file: "labels/label-coco-valid.json", item: "label-coco-valid",
    expect: { outcome: "accepted" }, why: "a well-formed COCO file for one image",
    content: () => text(coco("label-coco-valid")) },
  { id: "label-coco-unknown-category", category: "label", format: "coco", file: "labels/label-coco-unknown-category.json", item: "label-coco-unknown-category",
    expect: { outcome: "rejected", reason: "class is not in the ontology" }, why: "annotations of a category id the file does not define",
    content: () => text(coco("label-coco-unknown-category", (d) => { for (const a of d.annotations as { category_id: number }[]) a.category_id = 999; })) },
  { id: "label-coco-wrong-image-size", category: "label", format: "coco", file: "labels/label-coco-wrong-image-size.json", item: "label-coco-wrong-image-size",
    expect: { outcome: "rejected", reason: "differs from the item's image" }, why: "the COCO image entry says 32×32 for a 16×16 item",
    content: () => text(coco("label-coco-wrong-image-size", (d) => { for (const i of d.images as { width: number; height: number }[]) { i.width = 32; i.height = 32; } })) },
];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await mkdir(join(root, "labels"), { recursive: true });
  for (const c of LABEL_CASES) await writeFile(join(root, c.file), c.content());
  await writeFile(join(root, "labels.json"), text(LABEL_CASES.map(({ content: _content, ...rest }) => rest)));
  process.stdout.write(`${LABEL_CASES.length} label cases\n`);
}
