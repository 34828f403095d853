import { PermanentError, describeError, isTransient } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import type { ObjectFinalized } from "../../messages/events.ts";
import type { Deps } from "../../ports.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import {
  bumpAttempts, insertItemIfAbsent, productNameTaken, transitionItem, type ItemAssets, type ItemRow,
} from "../../db/queries/items.ts";
import { notify, transact } from "../effects.ts";
import { sha256Hex } from "../json.ts";
import { objectSource, sha256OfSource } from "../object-source.ts";
import { baseName, objectUri, stem } from "../uri.ts";
import type { ConsumerOutcome } from "../consumers.ts";

/** Deterministic item id: the same object generation always maps to the same item. */
export function itemIdFor(bucket: string, name: string, generation: string): string {
  return `it_${sha256Hex(`${bucket}/${name}#${generation}`).slice(0, 20)}`;
}

/** Objects the archive may hold that are not uploads: folders, temp files, hidden files. */
function isIgnorable(name: string): boolean {
  const base = baseName(name);
  return name.endsWith("/") || base.startsWith(".") || base.endsWith(".part") || base.endsWith(".tmp");
}

/**
 * ingest: an archive object (or a new generation of one) becomes an item, is normalised into the
 * annotation layout (`<folder>/<product>/<product>_rgb.png` + `_nir.png`, or `<folder>/<stem>/<stem>.png`)
 * and announced with `item.normalised`. The unique (bucket, name, generation) key is the inbox of
 * GCS events: a repeated event finds the item past `seen` and stops. Corrupt input ends `failed`
 * with its reason; transient errors are counted and rethrown for redelivery.
 */
export async function ingest(message: Envelope<ObjectFinalized>, deps: Deps): Promise<ConsumerOutcome> {
  const obj = message.data;
  if (obj.bucket !== deps.config.buckets.archive) return { status: "skipped", detail: `bucket ${obj.bucket} is not the archive` };
  if (isIgnorable(obj.name)) return { status: "skipped", detail: `ignored object ${obj.name}` };

  const itemId = itemIdFor(obj.bucket, obj.name, obj.generation);
  const log = deps.log.child({ itemId, object: `${obj.bucket}/${obj.name}#${obj.generation}` });
  const { row, created } = await insertItemIfAbsent(deps.db, {
    id: itemId, bucket: obj.bucket, name: obj.name, generation: obj.generation, size: obj.size === undefined ? null : Number(obj.size),
  });
  if (!created && row.state !== "seen") return { status: "duplicate", detail: `item ${itemId} is ${row.state}` };

  try {
    const result = await normaliseItem(row, deps);
    const done = await transact(deps, message, async (tx, emit) => {
      if (!(await claimInbox(tx, "ingest", message.id)) && !obj.reprocess) return false;
      const moved = await transitionItem(tx, itemId, ["seen"], "normalised", { ...result, error: null, error_stage: null }, "normalised");
      if (!moved) return false;
      await emit("item.normalised", { itemId });
      return true;
    });
    if (!done) return { status: "duplicate", detail: "another delivery normalised it first" };
    log.info("item normalised", { productName: result.product_name, width: result.width, height: result.height });
    return { status: "done" };
  } catch (err) {
    if (isTransient(err) || !(err instanceof PermanentError)) {
      await bumpAttempts(deps.db, itemId, describeError(err), "ingest").catch(() => undefined);
      throw err;
    }
    const reason = describeError(err);
    await transact(deps, message, async (tx, emit) => {
      await claimInbox(tx, "ingest", message.id);
      const moved = await transitionItem(tx, itemId, ["seen"], "failed", { error: reason, error_stage: "ingest", attempts: row.attempts + 1 }, reason);
      if (moved) await emit("item.failed", { itemId, stage: "ingest", reason });
    });
    log.warn("upload rejected", { reason });
    await notify(deps, { severity: "warning", title: `Upload failed: ${obj.name}`, text: reason, threadKey: `item:${itemId}` });
    return { status: "done", detail: `failed: ${reason}` };
  }
}

interface NormalisedFields {
  content_sha256: string;
  kind: "product" | "image";
  product_name: string;
  width: number;
  height: number;
  nodata_pixels: number;
  assets: ItemAssets;
}

async function normaliseItem(item: ItemRow, deps: Deps): Promise<NormalisedFields> {
  const { config, store } = deps;
  const sourceUri = objectUri(item.source_bucket, item.source_name);
  const head = await store.head(sourceUri);
  if (!head) throw new PermanentError("object_missing", `the uploaded object ${sourceUri} no longer exists`);
  if (head.size > config.normalise.maxUploadBytes) {
    throw new PermanentError("too_large", `upload is ${head.size} bytes, above MAX_UPLOAD_BYTES=${config.normalise.maxUploadBytes}`);
  }
  // Read by ranges, never whole: a 3 MB zip can claim gigabytes (see the normaliser's limits).
  const source = objectSource(store, sourceUri, head.size);
  const contentSha256 = await sha256OfSource(source);
  const normaliser = await deps.normaliser();
  const out = await normaliser.normalise(source, baseName(item.source_name), {
    rgbBands: config.normalise.rgbBands,
    nirBand: config.normalise.nirBand,
    stretchPercentiles: config.normalise.stretchPercentiles,
    nodataValue: config.normalise.nodataValue,
    singleValueImages: config.normalise.singleValueImages,
    limits: config.normalise.limits,
  });

  // Two different uploads with the same product name must not overwrite each other's images.
  let folderName = sanitise(out.productName || stem(item.source_name));
  if (await productNameTaken(deps.db, item.id, folderName)) folderName = `${folderName}__${item.id.slice(3, 11)}`;
  const folder = `${config.annotationFolder}/${folderName}`;
  const assets: ItemAssets = {};
  for (const image of out.images) {
    const file = out.kind === "product" ? `${folderName}_${image.role}.png` : `${folderName}.png`;
    const uri = objectUri(config.buckets.annotation, `${folder}/${file}`);
    await store.put(uri, image.png, { contentType: "image/png" });
    assets[image.role] = { uri, sha256: sha256Hex(image.png) };
  }
  if (out.nodataMask) {
    // Kept out of the annotators' folder: it is for quality checks and evaluation only.
    const uri = objectUri(config.buckets.annotation, `masks/nodata/${item.id}.png`);
    await store.put(uri, out.nodataMask, { contentType: "image/png" });
    assets.nodata = { uri, sha256: sha256Hex(out.nodataMask) };
  }
  return {
    content_sha256: contentSha256,
    kind: out.kind,
    product_name: folderName,
    width: out.width,
    height: out.height,
    nodata_pixels: out.nodataPixels,
    assets,
  };
}

function sanitise(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "").slice(0, 120);
  return cleaned || "item";
}
