import {
  freezeCandidatesPage, memberEntriesPage, saveAnnotationExports,
  type DatasetVersionRow, type EntrySourceRow, type MemberChange,
} from "../../db/queries/datasets.ts";
import { PermanentError } from "../../errors.ts";
import type { Deps } from "../../ports.ts";
import { CanonicalAnnotationSchema, ProvenanceSchema } from "../annotation/canonical.ts";
import { canonicalJson, sha256Hex } from "../json.ts";
import { objectUri } from "../uri.ts";
import { exportsComplete, loadNodataMask, writeSampleExports, type SampleExports } from "./exports.ts";
import {
  DatasetManifestV3Schema, MASK_IGNORE_VALUE, ManifestItemV2Schema, versionPrefix,
  type DatasetManifestV3, type ManifestHeader, type ManifestItemV2, type ManifestPageRef,
} from "./manifest.ts";
import { MANIFEST_PAGE_ENTRIES, pageBytes, pageEntryRanges, pageUri } from "./manifest-pages.ts";
import { splitOf } from "./split.ts";

/** Rows per database page while freezing: memory stays at a page, whatever the dataset size. */
const PAGE = 2000;
/** Exports written at once when a page has labels without them (object stores are latency-bound). */
const EXPORT_CONCURRENCY = 8;

export interface FreezeInput {
  line: string;
  /** The line's latest version, which the new one extends; null for the first. */
  parent: DatasetVersionRow | null;
  task: DatasetManifestV3["task"];
  classes: string[];
  evalSplitPercent: number;
  /** Entries per page (default MANIFEST_PAGE_ENTRIES). */
  pageEntries?: number;
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
  /** `parent`: the parent's pages kept; `database`: the parent's entries rebuilt from the membership tables. */
  source: "parent" | "database";
  /** Pages written by this freeze (new entries, and parent pages rewritten without replaced entries). */
  pagesWritten: number;
}

export type FreezeDeps = Pick<Deps, "db" | "store" | "codec" | "config" | "log">;

/** The parent cannot be built on (not v3, altered, missing, or not what the database says it holds). */
export class ParentUnusable extends Error {
  override readonly name = "ParentUnusable";
}

/**
 * Writes the `dataset-manifest/v3` document of the next version of a line (manifest.ts). The cost
 * is the change: the accepted items waiting for a version (new members, members whose label
 * changed) are read from the database page by page and written as new pages of this version's
 * seq; the parent's pages are kept by reference, except the few that held a replaced entry, which
 * are rewritten without it. Memory stays at a page whatever the dataset size. When the parent
 * cannot be used (a v1/v2 manifest from before this layout, or one that is not what the database
 * says) its entries are rebuilt from the database into pages instead, once; later freezes reuse
 * those pages.
 */
export async function freezeManifest(input: FreezeInput, deps: FreezeDeps): Promise<FrozenManifest> {
  const seq = (input.parent?.seq ?? 0) + 1;
  const header: ManifestHeader = {
    schema: "dataset-manifest/v3", line: input.line, seq, parentId: input.parent?.id ?? null, task: input.task,
    classes: input.classes, evalSplitPercent: input.evalSplitPercent, maskIgnoreValue: MASK_IGNORE_VALUE,
  };
  const { parent } = input;
  const attempt = async (source: "parent" | "database"): Promise<FrozenManifest> => {
    const writer = new PageWriter(input.line, input.pageEntries ?? MANIFEST_PAGE_ENTRIES, deps);
    // The parent's document first (small, and an unusable one sends us to the database at once);
    // then the changes: their pages are this version's, and the replaced ids tell which parent
    // entries to drop.
    const parentPages = parent && source === "parent" ? (await parentDocument(parent, deps)).pages : null;
    const changes: MemberChange[] = [];
    const replaced = new Map<string, number>();
    const fresh = await writer.group(seq, changedEntries(input, changes, replaced, deps));
    const kept = !parent ? []
      : parentPages ? await keptParentPages(parentPages, replaced, writer, deps)
      : await writer.group(parent.seq, memberEntries(input, parent, replaced, deps));
    const inserted = changes.filter((c) => c.kind === "insert");
    const itemCount = (parent?.item_count ?? 0) + inserted.length;
    const document = DatasetManifestV3Schema.parse({ ...header, itemCount, pages: [...kept, ...fresh] });
    const counted = document.pages.reduce((n, p) => n + p.count, 0);
    if (counted !== itemCount) {
      throw new ParentUnusable(`the pages hold ${counted} entries, the line has ${itemCount} members (parent ${parent?.item_count ?? 0} + ${inserted.length} new)`);
    }
    const text = canonicalJson(document);
    const versionId = sha256Hex(text);
    const info = await deps.store.put(objectUri(deps.config.buckets.datasets, `${versionPrefix(input.line, versionId)}manifest.json`), text, {
      contentType: "application/json", ifAbsent: true,
    });
    const added = (split: "train" | "eval") => inserted.filter((c) => c.split === split).length;
    return {
      versionId, manifestUri: info.uri, seq, itemCount, changes, source, pagesWritten: writer.written,
      trainCount: (parent?.train_count ?? 0) + added("train"), evalCount: (parent?.eval_count ?? 0) + added("eval"),
    };
  };
  try {
    return await attempt("parent");
  } catch (err) {
    if (!(err instanceof ParentUnusable)) throw err;
    deps.log.warn("parent manifest not usable; rebuilding its entries from the database", { line: input.line, parentId: parent?.id, reason: err.message });
    return attempt("database");
  }
}

/** A manifest entry: its item id and canonical JSON. */
interface PageEntry {
  itemId: string;
  json: string | Uint8Array;
}

/** Writes pages (content-addressed, so a page another version wrote already is not written again). */
class PageWriter {
  written = 0;
  constructor(private readonly line: string, private readonly pageEntries: number, private readonly deps: FreezeDeps) {}

  /** Entries (canonical JSON, in id order) as pages of `seq`, `pageEntries` at most each. */
  async group(seq: number, entries: AsyncIterable<readonly PageEntry[]>): Promise<ManifestPageRef[]> {
    const refs: ManifestPageRef[] = [];
    let batch: PageEntry[] = [];
    const flush = async () => {
      if (batch.length > 0) refs.push(await this.write(seq, batch));
      batch = [];
    };
    for await (const page of entries) {
      for (const entry of page) {
        batch.push(entry);
        if (batch.length >= this.pageEntries) await flush();
      }
    }
    await flush();
    return refs;
  }

  async write(seq: number, entries: readonly PageEntry[]): Promise<ManifestPageRef> {
    const bytes = pageBytes(entries.map((e) => e.json));
    const sha256 = sha256Hex(bytes);
    const info = await this.deps.store.put(pageUri(this.deps.config.buckets.datasets, this.line, sha256), bytes, { contentType: "application/json", ifAbsent: true });
    this.written++;
    return { uri: info.uri, sha256, seq, count: entries.length, first: entries[0]!.itemId, last: entries[entries.length - 1]!.itemId };
  }
}

/** Parent pages read and rewritten at once (object stores are latency-bound; a page is ~1.3 MB). */
const REWRITE_CONCURRENCY = 4;

/**
 * The parent's pages, kept as they are except those holding an entry this version replaces,
 * which are rewritten without it (dropped when nothing is left). A member's entry was written by
 * the freeze of its membership's `added_seq`, or by a rebuild after it (which replaced every older
 * page), so it is in the page of the smallest seq ≥ `added_seq` whose id range holds it: only
 * those pages are read.
 */
async function keptParentPages(pages: readonly ManifestPageRef[], replaced: ReadonlyMap<string, number>, writer: PageWriter, deps: FreezeDeps): Promise<ManifestPageRef[]> {
  const dropsByPage = new Map<number, string[]>();
  for (const [id, addedSeq] of replaced) {
    const at = pages.findIndex((p) => p.seq >= addedSeq && id >= p.first && id <= p.last);
    if (at < 0) throw new ParentUnusable(`replaced member ${id} (added at seq ${addedSeq}) is in no page of the parent`);
    dropsByPage.set(at, [...(dropsByPage.get(at) ?? []), id]);
  }
  const kept: (ManifestPageRef | null)[] = [...pages];
  const work = [...dropsByPage];
  for (let start = 0; start < work.length; start += REWRITE_CONCURRENCY) {
    await Promise.all(work.slice(start, start + REWRITE_CONCURRENCY).map(async ([at, ids]) => {
      const ref = pages[at]!;
      const entries = await parentPage(ref, deps);
      const drop = new Set(ids);
      const rest = entries.filter((e) => !drop.has(e.itemId));
      if (entries.length - rest.length !== drop.size) throw new ParentUnusable(`the parent's page ${ref.uri} lacks members it should hold`);
      kept[at] = rest.length > 0 ? await writer.write(ref.seq, rest) : null;
    }));
  }
  return kept.filter((p): p is ManifestPageRef => p !== null);
}

/** The parent's v3 document, checked against its id and the database's count of its members. */
async function parentDocument(parent: DatasetVersionRow, deps: FreezeDeps): Promise<DatasetManifestV3> {
  const text = await readParentObject(parent.manifest_uri, deps);
  if (sha256Hex(text) !== parent.id) throw new ParentUnusable(`the parent manifest does not hash to its id ${parent.id.slice(0, 12)}…`);
  let raw: unknown;
  try {
    raw = JSON.parse(text.toString("utf8"));
  } catch {
    throw new ParentUnusable("the parent manifest is not JSON");
  }
  const parsed = DatasetManifestV3Schema.safeParse(raw);
  if (!parsed.success) throw new ParentUnusable("the parent manifest is not dataset-manifest/v3");
  if (parsed.data.itemCount !== parent.item_count) throw new ParentUnusable(`the parent manifest lists ${parsed.data.itemCount} items, its version row ${parent.item_count}`);
  return parsed.data;
}

/** A parent page's entries as bytes; one that is missing or not what the document lists makes the parent unusable. */
async function parentPage(ref: ManifestPageRef, deps: FreezeDeps): Promise<PageEntry[]> {
  const bytes = await readParentObject(ref.uri, deps);
  if (sha256Hex(bytes) !== ref.sha256) throw new ParentUnusable(`the parent's page ${ref.uri} does not hash to ${ref.sha256.slice(0, 12)}…`);
  const entries = pageEntryRanges(bytes);
  if (!entries || entries.length !== ref.count) throw new ParentUnusable(`the parent's page ${ref.uri} does not hold ${ref.count} entries`);
  return entries;
}

async function readParentObject(uri: string, deps: FreezeDeps): Promise<Buffer> {
  try {
    return await deps.store.get(uri);
  } catch (err) {
    if (err instanceof PermanentError && err.code === "object_not_found") throw new ParentUnusable(`${uri} is missing`);
    throw err;
  }
}

/**
 * The accepted items in id order, as the entries this version writes; `sink` collects what the
 * database part of the freeze applies and `replaced` the members whose entry changes (with the
 * seq their current entry was written at). An item already a member with the same label keeps
 * its entry (`same`).
 */
async function* changedEntries(input: FreezeInput, sink: MemberChange[], replaced: Map<string, number>, deps: FreezeDeps): AsyncGenerator<{ itemId: string; json: string }[]> {
  for (let after = ""; ;) {
    const rows = await freezeCandidatesPage(deps.db, input.line, input.task, after, PAGE);
    if (rows.length === 0) return;
    after = rows[rows.length - 1]!.id;
    const exports = await ensureExports(rows, deps);
    const page: { itemId: string; json: string }[] = [];
    rows.forEach((row, i) => {
      const sample = exports[i];
      if (!sample) return; // an accepted label without content cannot be trained on; it waits
      const kind = row.member_annotation_id === null ? "insert" : row.member_annotation_id === row.annotation_id ? "same" : "replace";
      // A member keeps its split when its label changes: an evaluation sample never moves into training.
      const split = row.member_split ?? splitOf(row.split_key, input.evalSplitPercent);
      sink.push({ itemId: row.id, annotationId: row.annotation_id, split, kind, changedAt: row.changed_at });
      if (kind === "same") return;
      if (kind === "replace") replaced.set(row.id, row.member_added_seq!);
      page.push({ itemId: row.id, json: entryJson(row, sample, split) });
    });
    yield page;
  }
}

/**
 * The parent's members rebuilt from the database (the fallback when its pages cannot be used),
 * without those this version replaces. They must be as many as the parent's version row says.
 */
async function* memberEntries(input: FreezeInput, parent: DatasetVersionRow, replaced: ReadonlyMap<string, number>, deps: FreezeDeps): AsyncGenerator<{ itemId: string; json: string }[]> {
  let count = 0;
  for (let after = ""; ;) {
    const rows = await memberEntriesPage(deps.db, input.line, parent.seq, input.task, after, PAGE);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const exports = await ensureExports(rows, deps);
    const entries: { itemId: string; json: string }[] = [];
    rows.forEach((row, i) => {
      const sample = exports[i];
      if (!sample) return;
      count++;
      if (!replaced.has(row.id)) entries.push({ itemId: row.id, json: entryJson(row, sample, row.split) });
    });
    yield entries;
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
