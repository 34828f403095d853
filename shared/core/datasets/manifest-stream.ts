import { createHash } from "node:crypto";
import { canonicalJson } from "../json.ts";
import type { ManifestHeader } from "./manifest.ts";

/**
 * A manifest is written as a stream: the canonical JSON of the header around the items array,
 * and the items one canonical entry after the other, in item-id byte order. The result is byte for
 * byte `canonicalJson(manifest)` (keys sorted at every level, no whitespace), so its SHA-256 is the
 * version id however it was produced. A new version is the parent's entries merged with the
 * changes, so only the changes are built; the parent's entries are copied as bytes.
 */

export interface ManifestFrame {
  /** Everything up to and including `"items":[`. */
  prefix: string;
  /** Everything from the `]` that closes the items. */
  suffix: string;
}

export function manifestFrame(header: ManifestHeader): ManifestFrame {
  const whole = canonicalJson({ ...header, items: [] });
  const at = whole.indexOf(`"items":[]`);
  if (at < 0) throw new Error("manifest header has no items array");
  return { prefix: whole.slice(0, at + `"items":[`.length), suffix: whole.slice(at + `"items":[`.length) };
}

/**
 * A run of whole entries of an items array, as bytes: `buf[start, end)` holds one or more
 * canonical entries separated by commas (exactly as they sit in the document).
 */
export interface EntrySegment {
  buf: Buffer;
  start: number;
  end: number;
}

/** An entry of the new version that differs from the parent (or is new to the line). */
export interface ChangedEntry {
  itemId: string;
  kind: "insert" | "replace" | "same";
  /** The new entry's canonical JSON (absent for `same`: the parent's entry is kept). */
  json: string | null;
}

/** The parent cannot be merged from (not v2, altered, or not what the database says it holds). */
export class ParentUnusable extends Error {
  override readonly name = "ParentUnusable";
}

const ITEMS_OPEN = Buffer.from(`"items":[`);
const V2_ENTRY = Buffer.from(`{"exports":`);
const NEXT_ENTRY = Buffer.from(`},{"exports":`);
const ITEMS_CLOSE = Buffer.from(`}],"line":"`);
const ITEM_ID = Buffer.from(`"itemId":"`);
const QUOTE = 0x22;

/**
 * Splits a stored v2 manifest into runs of whole entries, one per chunk read, checking at the end
 * that the bytes hash to `expectedSha256` (throws ParentUnusable otherwise, before the caller can
 * finish a manifest built on them).
 *
 * Boundaries are found by byte search: in canonical JSON a quote inside a string is escaped, so
 * the markers below (each holds unescaped quotes) cannot occur inside a string, and v2 entries
 * hold no arrays, so `}],"line":"` closes the items. Entries are not parsed: a run is copied as
 * bytes unless a change falls inside it.
 */
export async function* storedSegments(chunks: AsyncIterable<Uint8Array>, expectedSha256: string): AsyncGenerator<EntrySegment> {
  const hash = createHash("sha256");
  let buf = Buffer.alloc(0);
  let pos = -1; // start of the next entry; -1 before the items array
  let done = false;
  let first = true;
  for await (const chunk of chunks) {
    hash.update(chunk);
    if (done) continue;
    buf = pos <= 0 && buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf.subarray(Math.max(pos, 0)), chunk]);
    if (pos > 0) pos = 0;
    if (pos < 0) {
      const open = buf.indexOf(ITEMS_OPEN);
      if (open < 0) continue;
      pos = open + ITEMS_OPEN.length;
    }
    if (first) {
      if (buf.length - pos < V2_ENTRY.length) continue;
      if (buf[pos] === 0x5d /* ] */) {
        done = true; // a parent without items
        continue;
      }
      if (buf.compare(V2_ENTRY, 0, V2_ENTRY.length, pos, pos + V2_ENTRY.length) !== 0) throw new ParentUnusable("the parent manifest is not dataset-manifest/v2");
      first = false;
    }
    // The items close after the last entry boundary, so only the bytes from there are searched
    // (a scan of the whole chunk would be a third pass over a manifest of hundreds of megabytes).
    const last = buf.lastIndexOf(NEXT_ENTRY);
    const close = buf.indexOf(ITEMS_CLOSE, Math.max(pos, last));
    if (close >= 0) {
      done = true;
      yield { buf, start: pos, end: close + 1 };
      pos = buf.length;
      continue;
    }
    if (last >= pos) {
      yield { buf, start: pos, end: last + 1 };
      pos = last + 2;
    }
  }
  if (!done) throw new ParentUnusable("the parent manifest ends inside its items");
  const sha256 = hash.digest("hex");
  if (sha256 !== expectedSha256) throw new ParentUnusable(`the parent manifest hashes to ${sha256.slice(0, 12)}…, not its id ${expectedSha256.slice(0, 12)}…`);
}

/** Entries (canonical JSON each, in id order) as one segment. */
export function segmentOf(entries: readonly string[]): EntrySegment | null {
  if (entries.length === 0) return null;
  const buf = Buffer.from(entries.join(","), "utf8");
  return { buf, start: 0, end: buf.length };
}

function idAt(buf: Buffer, start: number, end: number): string {
  const at = buf.indexOf(ITEM_ID, start);
  if (at < 0 || at >= end) throw new ParentUnusable("a parent manifest entry has no itemId");
  const from = at + ITEM_ID.length;
  let to = from;
  while (to < end && buf[to] !== QUOTE) {
    if (buf[to] === 0x5c /* \ */ || buf[to]! >= 0x80) throw new ParentUnusable("a parent manifest entry has an itemId this reader does not handle");
    to++;
  }
  if (to >= end) throw new ParentUnusable("a parent manifest entry has an unterminated itemId");
  return buf.toString("latin1", from, to);
}

/** The first entry start in [from, limit), or `limit`. */
function entryStartFrom(buf: Buffer, from: number, limit: number): number {
  const at = buf.indexOf(NEXT_ENTRY, Math.max(0, from - 2));
  return at < 0 || at + 2 >= limit ? limit : at + 2;
}

/** The end of the entry that starts at `start` (exclusive), within a segment ending at `end`. */
function entryEnd(buf: Buffer, start: number, end: number): number {
  const next = buf.indexOf(NEXT_ENTRY, start + 1);
  return next < 0 || next >= end ? end : next + 1;
}

/**
 * The start of the first entry in [start, end) whose id is not below `id` (or `end`): a binary
 * search over byte offsets, reading only the ids it lands on.
 */
function lowerBound(buf: Buffer, start: number, end: number, id: string): number {
  if (compareIds(idAt(buf, start, end), id) >= 0) return start;
  let lo = start; // an entry start whose id is below `id`
  let hi = end; // an entry start (or the end) whose id is not below `id`
  for (;;) {
    let s = entryStartFrom(buf, (lo + hi) >>> 1, hi);
    if (s >= hi) s = entryStartFrom(buf, lo + 1, hi);
    if (s >= hi) return hi;
    if (compareIds(idAt(buf, s, end), id) < 0) lo = s;
    else hi = s;
  }
}

/** Byte order of ids, the order of manifest items (and of `COLLATE "C"` in SQL). */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface MergeStats {
  entries: number;
}

/**
 * The new manifest's bytes: the frame around the parent's entries merged with the changes (both
 * sorted by item id). Runs of the parent between changes are copied as they are; each change is
 * placed by a binary search in the run it falls in. An `insert` must not be in the parent and a
 * `replace`/`same` must be (else ParentUnusable: the parent is not what the database says).
 * `stats.entries` counts the entries written other than the parent's (the caller knows those).
 * Output comes in chunks of ~1 MB.
 */
export async function* mergeManifest(
  frame: ManifestFrame,
  parent: AsyncIterable<EntrySegment | null>,
  changes: AsyncIterable<ChangedEntry[]>,
  stats: MergeStats,
): AsyncGenerator<Uint8Array> {
  const out = new ChunkWriter();
  out.raw(frame.prefix);
  const pending = changes[Symbol.asyncIterator]();
  let page: ChangedEntry[] = [];
  let at = 0;
  let exhausted = false;
  const current = async (): Promise<ChangedEntry | undefined> => {
    while (at >= page.length && !exhausted) {
      const next = await pending.next();
      if (next.done) exhausted = true;
      else {
        page = next.value;
        at = 0;
      }
    }
    return page[at];
  };
  const insert = (change: ChangedEntry) => {
    if (change.kind !== "insert") throw new ParentUnusable(`item ${change.itemId} should be in the parent manifest and is not`);
    out.entry(change.json!);
    stats.entries++;
  };

  for await (const segment of parent) {
    if (!segment || segment.end <= segment.start) continue;
    const { buf, end } = segment;
    let cursor = segment.start;
    const lastBoundary = buf.lastIndexOf(NEXT_ENTRY, end - 3); // a boundary with an entry after it, inside the run
    const lastId = idAt(buf, lastBoundary >= cursor ? lastBoundary + 2 : cursor, end);
    for (let change = await current(); change && compareIds(change.itemId, lastId) <= 0; change = await current()) {
      const p = lowerBound(buf, cursor, end, change.itemId);
      if (p > cursor) out.entry(buf.subarray(cursor, p - 1)); // the run before it, without its trailing comma
      cursor = p;
      const found = p < end && idAt(buf, p, end) === change.itemId;
      if (change.kind === "insert") {
        if (found) throw new ParentUnusable(`item ${change.itemId} is in the parent manifest but not a member`);
        insert(change);
      } else {
        if (!found) throw new ParentUnusable(`item ${change.itemId} should be in the parent manifest and is not`);
        if (change.kind === "replace") {
          out.entry(change.json!);
          stats.entries++;
          const after = entryEnd(buf, p, end);
          cursor = after < end ? after + 1 : end;
        }
      }
      at++;
    }
    if (cursor < end) out.entry(buf.subarray(cursor, end));
    yield* out.drain(false);
  }
  for (let change = await current(); change; at++, change = await current()) {
    insert(change);
    yield* out.drain(false);
  }
  out.raw(frame.suffix);
  yield* out.drain(true);
}

/** Collects entries (comma-separated) and raw text into ~1 MB chunks. */
class ChunkWriter {
  private parts: Buffer[] = [];
  private size = 0;
  private entries = 0;
  raw(text: string): void {
    this.push(Buffer.from(text, "utf8"));
  }
  /** One entry, or a run of entries already separated by commas. */
  entry(bytes: Uint8Array | string): void {
    if (this.entries++ > 0) this.push(COMMA);
    this.push(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  private push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
  }
  *drain(all: boolean): Generator<Uint8Array> {
    if (this.size === 0 || (!all && this.size < 1 << 20)) return;
    yield Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
  }
}

const COMMA = Buffer.from(",");
