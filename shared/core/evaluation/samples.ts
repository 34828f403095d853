import { PermanentError, describeError } from "../../errors.ts";
import { summariseIssues } from "../../messages/build.ts";
import type { DecodedRaster, ImageCodec, ObjectStore } from "../../ports.ts";
import { CanonicalAnnotationSchema } from "../annotation/canonical.ts";
import type { DatasetManifest, ManifestItem } from "../datasets/manifest.ts";
import { loadManifest } from "../datasets/manifest-pages.ts";
import { sha256Hex } from "../json.ts";
import type { SampleOrSkip } from "./evaluate.ts";
import type { EvaluationSample, ItemImages } from "./types.ts";

/**
 * Loading evaluation samples from a dataset version through the ObjectStore and ImageCodec ports.
 * Items are fetched a few ahead of the evaluator (object stores are latency-bound) but no more, so
 * memory stays at a handful of items.
 */

/**
 * Reads an untrusted manifest from the store, with its pages (v3); a corrupt one is a
 * PermanentError (the evaluation fails).
 */
export async function readStoredManifest(store: ObjectStore, uri: string): Promise<{ manifest: DatasetManifest; versionId: string }> {
  const raw = parseJsonDocument(await store.get(uri), `dataset manifest ${uri}`);
  return loadManifest(raw, uri, (ref) => store.get(ref.uri).catch((err: unknown) => {
    if (err instanceof PermanentError && err.code === "object_not_found") throw new PermanentError("corrupt_manifest", `manifest page ${ref.uri} of ${uri} is missing`);
    throw err;
  }));
}

export function parseJsonDocument(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch (err) {
    throw new PermanentError("corrupt_json", `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

export interface SampleLoaderDeps {
  store: ObjectStore;
  codec: ImageCodec;
}

export interface SampleLoader {
  items: readonly ManifestItem[];
  /** Content hashes that disagreed with the manifest (the data changed under a frozen version). */
  warnings: string[];
  samples(): AsyncGenerator<SampleOrSkip>;
}

/**
 * Samples of `split` (`eval` = the manifest's pinned eval split, `all` = every item, for
 * benchmark sets). An item that cannot be read or decoded is yielded as skipped with its reason;
 * a store failure that is not a PermanentError propagates (the job retries).
 */
export function createSampleLoader(
  manifest: DatasetManifest,
  deps: SampleLoaderDeps,
  options: { split: "eval" | "all"; prefetch?: number },
): SampleLoader {
  const items = manifest.items.filter((item) => options.split === "all" || item.split === "eval");
  const warnings: string[] = [];
  const prefetch = Math.max(1, options.prefetch ?? 4);

  const load = async (item: ManifestItem): Promise<SampleOrSkip> => {
    try {
      return { kind: "sample", sample: await loadSample(item, deps, warnings) };
    } catch (err) {
      if (err instanceof PermanentError) return { kind: "skipped", itemId: item.itemId, reason: describeError(err) };
      throw err;
    }
  };

  async function* samples(): AsyncGenerator<SampleOrSkip> {
    const pending: Promise<SampleOrSkip>[] = [];
    let next = 0;
    const fill = () => {
      while (pending.length < prefetch && next < items.length) {
        const p = load(items[next++]!);
        // Marked handled now; the rejection is re-thrown when this entry is awaited in order.
        p.catch(() => undefined);
        pending.push(p);
      }
    };
    fill();
    while (pending.length > 0) {
      const entry = await pending.shift()!;
      fill();
      yield entry;
    }
  }

  return { items, warnings, samples };
}

async function loadSample(item: ManifestItem, deps: SampleLoaderDeps, warnings: string[]): Promise<EvaluationSample> {
  const getChecked = async (ref: { uri: string; sha256: string }, what: string): Promise<Uint8Array> => {
    const bytes = await deps.store.get(ref.uri);
    if (sha256Hex(bytes) !== ref.sha256) warnings.push(`item ${item.itemId}: ${what} ${ref.uri} does not match the manifest's SHA-256`);
    return bytes;
  };
  const decode = async (ref: { uri: string; sha256: string } | undefined, what: string): Promise<DecodedRaster | undefined> =>
    ref ? deps.codec.decodePng(await getChecked(ref, what)) : undefined;

  const [labelBytes, rgb, nir, image, nodata] = await Promise.all([
    getChecked(item.label, "label"),
    decode(item.images.rgb, "RGB image"),
    decode(item.images.nir, "NIR image"),
    decode(item.images.image, "image"),
    decode(item.nodata ?? undefined, "nodata mask"),
  ]);
  const parsed = CanonicalAnnotationSchema.safeParse(parseJsonDocument(labelBytes, `label of item ${item.itemId}`));
  if (!parsed.success) throw new PermanentError("corrupt_label", `label of item ${item.itemId} is not a canonical annotation: ${summariseIssues(parsed.error.issues)}`);
  const images: ItemImages = {};
  if (rgb) images.rgb = rgb;
  if (nir) images.nir = nir;
  if (image) images.image = image;
  if (!rgb && !image) throw new PermanentError("missing_image", `item ${item.itemId} has no RGB or plain image in the manifest`);
  return { itemId: item.itemId, images, annotation: parsed.data, nodata: nodata ?? null };
}
