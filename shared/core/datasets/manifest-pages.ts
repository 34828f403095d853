import { PermanentError } from "../../errors.ts";
import { summariseIssues } from "../../messages/build.ts";
import { canonicalJson, sha256Hex } from "../json.ts";
import { objectUri } from "../uri.ts";
import {
  ManifestItemV2Schema, StoredManifestSchema, type DatasetManifest, type ManifestItemV2, type ManifestPageRef,
} from "./manifest.ts";

/**
 * Pages of a `dataset-manifest/v3` version. A page is the canonical JSON array of at most
 * MANIFEST_PAGE_ENTRIES manifest entries in item-id byte order, stored once under its SHA-256
 * (`gs://<datasets>/<line>/pages/<sha256>.json`) and shared by every version that lists it. A
 * folder checked out from a version (`mlops data pull`, a trainer's DATA_DIR) holds the document
 * as `manifest.json` and its pages as `manifest-pages/<sha256>.json`.
 */

/**
 * ~1.3 MB per page at ~1.25 KB an entry: a freeze that relabels a member rewrites its page, and a
 * million items make a document of ~1 000 page references (~200 KB).
 */
export const MANIFEST_PAGE_ENTRIES = 1024;

/** The folder beside a checked-out `manifest.json` that holds its pages. */
export const MANIFEST_PAGES_DIR = "manifest-pages";

export function pageUri(bucket: string, line: string, sha256: string): string {
  return objectUri(bucket, `${line}/pages/${sha256}.json`);
}

/** A page's file name inside MANIFEST_PAGES_DIR. */
export function pageFileName(ref: Pick<ManifestPageRef, "sha256">): string {
  if (!/^[0-9a-f]{64}$/.test(ref.sha256)) throw new PermanentError("corrupt_manifest", `a manifest page has no SHA-256: ${ref.sha256}`);
  return `${ref.sha256}.json`;
}

/** A page's bytes from its entries' canonical JSON (already in item-id order). */
export function pageBytes(entries: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [OPEN];
  entries.forEach((e, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(typeof e === "string" ? Buffer.from(e, "utf8") : Buffer.from(e.buffer, e.byteOffset, e.byteLength));
  });
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

const OPEN = Buffer.from("[");
const COMMA = Buffer.from(",");
const CLOSE = Buffer.from("]");
const ENTRY_START = Buffer.from(`{"exports":`);
const ITEM_ID = Buffer.from(`"itemId":"`);

/**
 * The entries of a page a freeze wrote, as byte ranges with their ids, without parsing them: a
 * freeze that drops one entry from a page copies the others as they are (parsing and
 * re-serialising 1 024 entries costs ~20× more). Only for bytes already checked against the
 * SHA-256 their version lists, so they are canonical JSON as `pageBytes` wrote them: entries
 * start with `{"exports":` (their first key in sorted order; no nested object has that key, and a
 * quote inside a string is escaped) and the first `"itemId":"` in an entry is its own. Returns
 * null when the bytes are not laid out like that.
 */
export function pageEntryRanges(bytes: Buffer): { itemId: string; json: Buffer }[] | null {
  if (bytes[0] !== 0x5b || bytes[bytes.length - 1] !== 0x5d) return null;
  const starts: number[] = [];
  for (let at = bytes.indexOf(ENTRY_START, 1); at >= 0; at = bytes.indexOf(ENTRY_START, at + ENTRY_START.length)) starts.push(at);
  if (starts[0] !== 1) return null;
  const out: { itemId: string; json: Buffer }[] = [];
  for (const [k, start] of starts.entries()) {
    const end = k + 1 < starts.length ? starts[k + 1]! - 1 : bytes.length - 1;
    if (bytes[end] !== (k + 1 < starts.length ? 0x2c : 0x5d)) return null;
    const idAt = bytes.indexOf(ITEM_ID, start);
    if (idAt < 0 || idAt >= end) return null;
    const idEnd = bytes.indexOf(0x22, idAt + ITEM_ID.length);
    if (idEnd < 0 || idEnd >= end) return null;
    out.push({ itemId: bytes.toString("utf8", idAt + ITEM_ID.length, idEnd), json: bytes.subarray(start, end) });
  }
  return out;
}

/** Reads a page's bytes given its reference (from the store, or from a checked-out folder). */
export type PageReader = (ref: ManifestPageRef) => Promise<Uint8Array>;

/**
 * A page's entries, checked the way a reader must: its bytes hash to the SHA-256 the document
 * lists, and it holds `count` valid entries from `first` to `last` in id order. Anything else is
 * a corrupt version (PermanentError `corrupt_manifest`).
 */
export function parsePage(bytes: Uint8Array, ref: ManifestPageRef): ManifestItemV2[] {
  const corrupt = (why: string) => new PermanentError("corrupt_manifest", `manifest page ${ref.uri} ${why}`);
  const sha256 = sha256Hex(bytes);
  if (sha256 !== ref.sha256) throw corrupt(`has SHA-256 ${sha256.slice(0, 12)}…, not ${ref.sha256.slice(0, 12)}… as its version lists`);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch (err) {
    throw corrupt(`is not JSON: ${(err as Error).message}`);
  }
  const parsed = ManifestItemV2Schema.array().safeParse(raw);
  if (!parsed.success) throw corrupt(`is invalid: ${summariseIssues(parsed.error.issues)}`);
  const items = parsed.data;
  if (items.length !== ref.count) throw corrupt(`holds ${items.length} entries, its version lists ${ref.count}`);
  if (items[0]!.itemId !== ref.first || items[items.length - 1]!.itemId !== ref.last) throw corrupt("does not span the ids its version lists");
  return items;
}

/**
 * A stored manifest document with its items, whatever its schema, and the version id: the
 * document's URI names it (`…/<line>/<id>/manifest.json`, where a freeze stores it), otherwise it
 * is the SHA-256 of the document in canonical JSON. A v3 document's pages are read with
 * `readPage` and checked against it. A document that is not a manifest is `corrupt_manifest`.
 */
export async function loadManifest(raw: unknown, uri: string, readPage: PageReader): Promise<{ manifest: DatasetManifest; versionId: string }> {
  const parsed = StoredManifestSchema.safeParse(raw);
  if (!parsed.success) throw new PermanentError("corrupt_manifest", `dataset manifest ${uri} is invalid: ${summariseIssues(parsed.error.issues)}`);
  const stored = parsed.data;
  const named = /\/([0-9a-f]{64})\/manifest\.json$/.exec(uri)?.[1];
  // A v1/v2 document can be a gigabyte: where a freeze stored it, its path names its id. A v3
  // document is small, so it is always hashed (the pages are checked against it).
  if (stored.schema !== "dataset-manifest/v3") return { manifest: stored, versionId: named ?? sha256Hex(canonicalJson(raw)) };
  const versionId = sha256Hex(canonicalJson(raw));
  if (named && named !== versionId) throw new PermanentError("corrupt_manifest", `dataset manifest ${uri} hashes to ${versionId.slice(0, 12)}…, not the version id ${named.slice(0, 12)}… it is stored as`);
  const items: ManifestItemV2[] = [];
  for (const ref of stored.pages) {
    for (const item of parsePage(await readPage(ref), ref)) items.push(item);
  }
  if (items.length !== stored.itemCount) {
    throw new PermanentError("corrupt_manifest", `dataset manifest ${uri} lists ${stored.itemCount} items, its pages hold ${items.length}`);
  }
  return { manifest: { ...stored, items }, versionId };
}
