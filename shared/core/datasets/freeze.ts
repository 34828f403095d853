import {
  freezeCandidatesPage, memberEntriesPage, saveAnnotationExports,
  type DatasetVersionRow, type EntrySourceRow, type MemberChange,
} from "../../db/queries/datasets.ts";
import { PermanentError } from "../../errors.ts";
import type { Deps } from "../../ports.ts";
import { CanonicalAnnotationSchema, ProvenanceSchema } from "../annotation/canonical.ts";
import { canonicalJson } from "../json.ts";
import { objectUri } from "../uri.ts";
import { exportsComplete, loadNodataMask, writeSampleExports, type SampleExports } from "./exports.ts";
import {
  MASK_IGNORE_VALUE, ManifestItemV2Schema, versionPrefix, type DatasetManifestV2, type ManifestHeader, type ManifestItemV2,
} from "./manifest.ts";
import { ParentUnusable, manifestFrame, mergeManifest, segmentOf, storedSegments, type ChangedEntry, type EntrySegment } from "./manifest-stream.ts";
import { splitOf } from "./split.ts";

/** Rows per database page while freezing: memory stays at a page, whatever the dataset size. */
const PAGE = 2000;
/** Exports written at once when a page has labels without them (object stores are latency-bound). */
const EXPORT_CONCURRENCY = 8;

export interface FreezeInput {
  line: string;
  /** The line's latest version, which the new one extends; null for the first. */
  parent: DatasetVersionRow | null;
  task: DatasetManifestV2["task"];
  classes: string[];
  evalSplitPercent: number;
}

export interface FrozenManifest {
  versionId: string;
  manifestUri: string;
  seq: number;
  itemCount: number;
  trainCount: number;
  evalCount: number;
  /** The accepted items this version takes in, for the database part of the freeze. */
  changes: MemberChange[];
  /** `parent`: merged from the parent's manifest; `database`: rebuilt from the membership tables. */
  source: "parent" | "database";
}

export type FreezeDeps = Pick<Deps, "db" | "store" | "codec" | "config" | "log">;

/**
 * Writes the manifest of the next version of a line: the parent's entries plus the accepted items
 * waiting for a version (new members, or members whose label changed), streamed in item-id order
 * to a content-addressed object. The cost is the change: new entries are built from the database
 * page by page, the parent's are copied as bytes from its manifest. When the parent manifest cannot
 * be used (a v1 manifest from before this layout, or one that is not what the database says) the
 * parent's entries are rebuilt from the database instead, once; later freezes merge again.
 */
export async function freezeManifest(input: FreezeInput, deps: FreezeDeps): Promise<FrozenManifest> {
  const seq = (input.parent?.seq ?? 0) + 1;
  const header: ManifestHeader = {
    schema: "dataset-manifest/v2", line: input.line, seq, parentId: input.parent?.id ?? null, task: input.task,
    classes: input.classes, evalSplitPercent: input.evalSplitPercent, maskIgnoreValue: MASK_IGNORE_VALUE,
  };
  const { parent } = input;
  const attempt = async (source: "parent" | "database"): Promise<FrozenManifest> => {
    const changes: MemberChange[] = [];
    const parentEntries = !parent ? emptySource()
      : source === "parent" ? storedSegments(parentBytes(parent.manifest_uri, deps), parent.id)
      : memberEntries(input, parent, deps);
    const stats = { entries: 0 };
    const bucket = deps.config.buckets.datasets;
    const { sha256, info } = await deps.store.putAddressed(
      mergeManifest(manifestFrame(header), parentEntries, changedEntries(input, changes, deps), stats),
      (id) => objectUri(bucket, `${versionPrefix(input.line, id)}manifest.json`),
      { contentType: "application/json", ifAbsent: true },
    );
    const inserted = changes.filter((c) => c.kind === "insert");
    const added = (split: "train" | "eval") => inserted.filter((c) => c.split === split).length;
    return {
      versionId: sha256, manifestUri: info.uri, seq, itemCount: (parent?.item_count ?? 0) + inserted.length, changes, source,
      trainCount: (parent?.train_count ?? 0) + added("train"), evalCount: (parent?.eval_count ?? 0) + added("eval"),
    };
  };
  try {
    return await attempt("parent");
  } catch (err) {
    if (!(err instanceof ParentUnusable)) throw err;
    deps.log.warn("parent manifest not mergeable; rebuilding its entries from the database", { line: input.line, parentId: parent?.id, reason: err.message });
    return attempt("database");
  }
}

/** The parent manifest's bytes; a missing one is rebuilt from the database like an unusable one. */
async function* parentBytes(uri: string, deps: FreezeDeps): AsyncGenerator<Uint8Array> {
  try {
    yield* deps.store.getStream(uri);
  } catch (err) {
    if (err instanceof PermanentError && err.code === "object_not_found") throw new ParentUnusable(`the parent manifest ${uri} is missing`);
    throw err;
  }
}

async function* emptySource(): AsyncGenerator<EntrySegment> {}

/**
 * The accepted items in id order, as manifest changes; `sink` collects what the database part of
 * the freeze applies. An item already a member with the same label keeps its entry (`same`).
 */
async function* changedEntries(input: FreezeInput, sink: MemberChange[], deps: FreezeDeps): AsyncGenerator<ChangedEntry[]> {
  for (let after = ""; ;) {
    const rows = await freezeCandidatesPage(deps.db, input.line, input.task, after, PAGE);
    if (rows.length === 0) return;
    after = rows[rows.length - 1]!.id;
    const exports = await ensureExports(rows, deps);
    const page: ChangedEntry[] = [];
    rows.forEach((row, i) => {
      const sample = exports[i];
      if (!sample) return; // an accepted label without content cannot be trained on; it waits
      const kind = row.member_annotation_id === null ? "insert" : row.member_annotation_id === row.annotation_id ? "same" : "replace";
      // A member keeps its split when its label changes: an evaluation sample never moves into training.
      const split = row.member_split ?? splitOf(row.split_key, input.evalSplitPercent);
      sink.push({ itemId: row.id, annotationId: row.annotation_id, split, kind, changedAt: row.changed_at });
      page.push({ itemId: row.id, kind, json: kind === "same" ? null : entryJson(row, sample, split) });
    });
    yield page;
  }
}

/**
 * The parent's members rebuilt from the database (the fallback when its manifest cannot be
 * merged), a page per segment. They must be as many as the parent's version row says.
 */
async function* memberEntries(input: FreezeInput, parent: DatasetVersionRow, deps: FreezeDeps): AsyncGenerator<EntrySegment | null> {
  let count = 0;
  for (let after = ""; ;) {
    const rows = await memberEntriesPage(deps.db, input.line, parent.seq, input.task, after, PAGE);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const exports = await ensureExports(rows, deps);
    const entries = rows.flatMap((row, i) => {
      const sample = exports[i];
      return sample ? [entryJson(row, sample, row.split)] : [];
    });
    count += entries.length;
    yield segmentOf(entries);
  }
  if (count !== parent.item_count) throw new Error(`version ${parent.id} has ${parent.item_count} items, the database has ${count} members with labels for it`);
}

/**
 * The stored exports of each row's label, writing (and recording) those a label lacks: labels taken
 * in before exports were written at poll time, or frozen under another task. Null for a row whose
 * label has no content.
 */
async function ensureExports(rows: readonly EntrySourceRow[], deps: FreezeDeps): Promise<(SampleExports | null)[]> {
  const task = deps.config.annotation.task;
  const out: (SampleExports | null)[] = rows.map((r) => (exportsComplete(r.exports, task) ? r.exports : null));
  const missing = rows.flatMap((row, i) => (out[i] === null && row.canonical ? [i] : []));
  for (let start = 0; start < missing.length; start += EXPORT_CONCURRENCY) {
    await Promise.all(missing.slice(start, start + EXPORT_CONCURRENCY).map(async (i) => {
      const row = rows[i]!;
      const annotation = CanonicalAnnotationSchema.parse(row.canonical);
      const nodata = row.assets.nodata ? await loadNodataMask(row.assets.nodata.uri, deps) : null;
      const written = await writeSampleExports(annotation, nodata, deps);
      await saveAnnotationExports(deps.db, row.annotation_id, written);
      out[i] = written;
    }));
  }
  return out;
}

/** A member's manifest entry, in canonical JSON. */
function entryJson(row: EntrySourceRow, exports: SampleExports, split: "train" | "eval"): string {
  return canonicalJson(ManifestItemV2Schema.parse(manifestEntry(row, exports, split)));
}

export function manifestEntry(row: EntrySourceRow, exports: SampleExports, split: "train" | "eval"): ManifestItemV2 {
  const width = row.width ?? row.image?.width ?? 0;
  const height = row.height ?? row.image?.height ?? 0;
  const images: ManifestItemV2["images"] = {};
  for (const role of ["rgb", "nir", "image"] as const) {
    const asset = row.assets[role];
    if (asset) images[role] = { uri: asset.uri, sha256: asset.sha256, width, height };
  }
  return {
    itemId: row.id,
    split,
    images,
    nodata: row.assets.nodata ? { uri: row.assets.nodata.uri, sha256: row.assets.nodata.sha256 } : null,
    label: exports.label,
    exports: { yolo: exports.yolo, ...(exports.mask ? { mask: exports.mask } : {}) },
    provenance: ProvenanceSchema.parse(row.provenance),
  };
}
