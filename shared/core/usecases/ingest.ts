import { PermanentError, describeError, isTransient } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import type { ObjectFinalized } from "../../messages/events.ts";
import type { Deps, NormalisedOutput } from "../../ports.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { recordImageStats } from "../../db/queries/drift.ts";
import { imageFeatures } from "../drift/stats.ts";
import {
  bumpAttempts, claimContent, claimTitle, insertItemIfAbsent, lockItemState, transitionItem, type ItemAssets, type ItemRow,
} from "../../db/queries/items.ts";
import { notify, transact } from "../effects.ts";
import { sha256Hex } from "../json.ts";
import { objectSource, sha256OfSource } from "../object-source.ts";
import { baseName, objectUri, stem } from "../uri.ts";
import type { ConsumerOutcome } from "../consumers.ts";
import { failpoint } from "../failpoints.ts";
import { ingestNormaliseOptions } from "./normalise-options.ts";

/** Deterministic item id: the same object generation always maps to the same item. */
export function itemIdFor(bucket: string, name: string, generation: string): string {
  return `it_${sha256Hex(`${bucket}/${name}#${generation}`).slice(0, 20)}`;
}

/**
 * The product name is the uploaded object's name without folder and extension
 * (`uploads/2024/S2A_MSIL1C_X.zip` → `S2A_MSIL1C_X`), never the name of a file inside it: real
 * products all hold `L1B.tif` or the like.
 */
export function productNameOf(objectName: string): string {
  return stem(baseName(objectName)) || "upload";
}

/**
 * Titles to try, in order, for an item: its product name made safe for object paths and backend
 * titles, then the same with a deterministic piece of the item id, then with the whole id. The
 * title is also the item's folder, so the first one free (case-insensitively, items_title_key) is
 * the readable name for the first upload of a name, and concurrent uploads that sanitise alike
 * (`scene 1.png`, `scene_1.png`, `Scene#1.png`) each get their own.
 */
export function titleCandidates(productName: string, itemId: string): string[] {
  const base = sanitise(productName);
  const hex = itemId.replace(/^it_/, "");
  return [base, `${base}-${hex.slice(0, 8)}`, `${base}-${hex}`];
}

/** Objects the archive may hold that are not uploads: folders, temp files, hidden files. */
function isIgnorable(name: string): boolean {
  const base = baseName(name);
  return name.endsWith("/") || base.startsWith(".") || base.endsWith(".part") || base.endsWith(".tmp");
}

/**
 * ingest: an archive object (or a new generation of one) becomes an item, is normalised into the
 * annotation layout (`<folder>/<title>/<title>_rgb.png` + `_nir.png`, or `<folder>/<title>/<title>.png`)
 * and announced with `item.normalised`. The unique (bucket, name, generation) key is the inbox of
 * GCS events: a repeated event finds the item past `seen` and stops. Corrupt input ends `failed`
 * with its reason; transient errors are counted and rethrown for redelivery.
 *
 * Identity under concurrency: after normalising, one transaction claims the content (one live item
 * per SHA-256; the loser ends `duplicate` there and then, having written nothing) and the title,
 * which doubles as the item's folder. Both are database constraints, so two uploads cannot end up
 * with the same folder or title however they interleave. Only then are images written, under the
 * item's own claimed folder; a crash before the final commit leaves objects nobody else can own
 * (a title is never given up), and the retry (redelivery or `reconcile`) finds its claims and
 * writes the same objects again.
 *
 * Why the folder is the claimed title rather than "name + piece of the id" for every item: labels
 * come back by title (Encord `data_title`) or by image file name (COCO `file_name`), so folder,
 * file stem and title must be one name for a label to find its item, and a first upload keeps the
 * plain readable layout (`items/S2A_X/S2A_X_rgb.png`). The price: the folder is unique by a
 * constraint claimed before any write instead of by construction, and the claim ignores case, as
 * a case-insensitive disk (the local runtime on a laptop) would merge `Scene_1/` and `scene_1/`.
 */
export async function ingest(message: Envelope<ObjectFinalized>, deps: Deps): Promise<ConsumerOutcome> {
  const obj = message.data;
  if (obj.bucket !== deps.config.buckets.archive) return { status: "skipped", detail: `bucket ${obj.bucket} is not the archive` };
  if (isIgnorable(obj.name)) return { status: "skipped", detail: `ignored object ${obj.name}` };

  const itemId = itemIdFor(obj.bucket, obj.name, obj.generation);
  const log = deps.log.child({ itemId, object: `${obj.bucket}/${obj.name}#${obj.generation}` });
  const { row, created } = await insertItemIfAbsent(deps.db, {
    id: itemId, bucket: obj.bucket, name: obj.name, generation: obj.generation, size: obj.size === undefined ? null : Number(obj.size),
    productName: productNameOf(obj.name),
  });
  if (!created && row.state !== "seen") return { status: "duplicate", detail: `item ${itemId} is ${row.state}` };

  try {
    const normalised = await readAndNormalise(row, deps);
    const identity = await claimIdentity(row, normalised, deps, message);
    if (identity.kind === "gone") return { status: "duplicate", detail: `item ${itemId} is ${identity.state}` };
    if (identity.kind === "duplicate") {
      log.info("upload duplicates a live item", { duplicateOf: identity.of });
      // Nothing to act on, and a re-uploaded folder makes hundreds: one message per 10 minutes,
      // the full list is in the status snapshot.
      await notify(deps, {
        severity: "info",
        title: `Duplicate upload: ${obj.name}`,
        text: `same bytes as item ${identity.of}; no second annotation task (further duplicates in the next 10 minutes: see \`mlops status\`)`,
      }, { dedupeKey: "ingest:duplicate-upload", windowSeconds: 600 });
      return { status: "done", detail: `duplicate of ${identity.of}` };
    }
    const assets = await writeImages(row, identity.title, normalised.out, deps);
    const warnings = normalised.out.warnings ?? [];
    failpoint("ingest.objects_written");
    const done = await transact(deps, message, async (tx, emit) => {
      if (!(await claimInbox(tx, "ingest", message.id)) && !obj.reprocess) return false;
      const moved = await transitionItem(tx, itemId, ["seen"], "normalised", {
        content_sha256: normalised.sha256, kind: normalised.out.kind, width: normalised.out.width, height: normalised.out.height,
        nodata_pixels: normalised.out.nodataPixels, assets, warnings, duplicate_of: null, error: null, error_stage: null,
        product_name: row.product_name ?? productNameOf(obj.name),
      }, "normalised");
      if (!moved) return false;
      // The input drift features of this image, with the state change (one row per item).
      const stats = normalised.out.bandStats;
      if (stats) await recordImageStats(tx, { source: "ingest", itemId, features: imageFeatures(stats.bands, stats.nodataFraction) });
      await emit("item.normalised", { itemId });
      return true;
    });
    if (!done) return { status: "duplicate", detail: "another delivery normalised it first" };
    failpoint("ingest.committed");
    if (warnings.length > 0) log.warn("item normalised with warnings", { title: identity.title, warnings });
    log.info("item normalised", { title: identity.title, width: normalised.out.width, height: normalised.out.height });
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

interface Normalised {
  sha256: string;
  out: NormalisedOutput;
}

async function readAndNormalise(item: ItemRow, deps: Deps): Promise<Normalised> {
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
  const out = await normaliser.normalise(source, baseName(item.source_name), ingestNormaliseOptions(config));
  return { sha256: contentSha256, out };
}

type Identity = { kind: "claimed"; title: string } | { kind: "duplicate"; of: string } | { kind: "gone"; state: string };

/**
 * One transaction: the content claim (or the `duplicate` outcome, recorded with its announcement)
 * and the title claim. The item row is locked first, so two deliveries of the same event take
 * turns and the second finds the first one's claims as its own.
 */
async function claimIdentity(item: ItemRow, normalised: Normalised, deps: Deps, message: Envelope<ObjectFinalized>): Promise<Identity> {
  return transact(deps, message, async (tx, emit): Promise<Identity> => {
    const state = (await lockItemState(tx, item.id)) ?? "missing";
    if (state !== "seen") return { kind: "gone", state };
    // Claimed even when deduplication is off, so turning it on later knows the live content.
    const holder = await claimContent(tx, normalised.sha256, item.id);
    if (holder !== item.id && deps.config.normalise.deduplicateContent) {
      await claimInbox(tx, "ingest", message.id);
      const { out } = normalised;
      await transitionItem(tx, item.id, ["seen"], "duplicate", {
        content_sha256: normalised.sha256, duplicate_of: holder, kind: out.kind, width: out.width, height: out.height,
        nodata_pixels: out.nodataPixels, warnings: out.warnings ?? [], error: null, error_stage: null,
      }, `same content as ${holder}`);
      await emit("item.duplicate", { itemId: item.id, duplicateOf: holder });
      return { kind: "duplicate", of: holder };
    }
    const title = await claimTitle(tx, item.id, titleCandidates(item.product_name ?? productNameOf(item.source_name), item.id));
    if (!title) throw new PermanentError("no_free_title", `every title tried for ${item.source_name} is taken by another item`);
    return { kind: "claimed", title };
  });
}

async function writeImages(item: ItemRow, title: string, out: NormalisedOutput, deps: Deps): Promise<ItemAssets> {
  const { config, store } = deps;
  const folder = `${config.annotationFolder}/${title}`;
  const assets: ItemAssets = {};
  for (const image of out.images) {
    const file = out.kind === "product" ? `${title}_${image.role}.png` : `${title}.png`;
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
  return assets;
}

function sanitise(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "").slice(0, 120);
  return cleaned || "item";
}
