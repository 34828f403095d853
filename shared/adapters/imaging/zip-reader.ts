/**
 * Reads a zip archive by ranges: the central directory, then one entry.
 *
 * Why not fflate here (it writes our zips): it needs the whole archive in memory, and its pure-JS
 * inflate is about three times slower than Node's zlib on a product TIFF. Reading the directory
 * ourselves lets us refuse hostile archives before spending memory on them: entries whose declared
 * size is above the cap, names that climb out of the archive or are absolute, entries that overlap
 * (the "better zip bomb"), encrypted entries and unknown methods. A deflated entry is inflated as a
 * stream into a buffer of its declared size and stops the moment it would exceed it; a stored
 * entry is not copied at all: it is read in place, as a slice of the archive.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { constants, crc32, createInflateRaw, inflateRaw, inflateRawSync } from "node:zlib";
import { PermanentError } from "../../errors.ts";
import type { ByteSource } from "../../ports.ts";
import { forEachChunk, isMemorySource, memorySource, readExactly, sliceSource } from "./byte-source.ts";

export interface ZipEntry {
  name: string;
  /** Length of the name as stored, in bytes (for the overlap check). */
  nameLength: number;
  /** 0 = stored, 8 = deflate; anything else is refused when opened. */
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localHeaderOffset: number;
  encrypted: boolean;
  isDirectory: boolean;
}

export interface ZipListing {
  entries: ZipEntry[];
  /** Where the central directory starts: entry data must end before it. */
  directoryOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const U32_MAX = 0xffff_ffff;
/** A product has tens to hundreds of files; a directory beyond these is an attack or an accident. */
const MAX_ENTRIES = 100_000;
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;
/** Deflate's best case is 1032:1 (258-byte matches in 2-bit codes); a larger claim is a lie. */
const DEFLATE_MAX_RATIO = 1032;
const inflateRawAsync = promisify(inflateRaw);
const INFLATE_INPUT_CHUNK = 4 * 1024 * 1024;
const INFLATE_OUTPUT_CHUNK = 1024 * 1024;
const CRC_CHUNK = 8 * 1024 * 1024;
/** Stored entries up to this size are checksummed when opened; larger ones once cheap checks pass. */
const EAGER_CRC_BYTES = 64 * 1024 * 1024;

export function corruptZip(message: string, cause?: unknown): PermanentError {
  return new PermanentError("corrupt_zip", `not a readable zip archive: ${message}`, cause === undefined ? undefined : { cause });
}

/** The archive's entries from its central directory; PermanentError("corrupt_zip") when unreadable. */
export async function listZipEntries(input: ByteSource | Uint8Array): Promise<ZipListing> {
  const source = input instanceof Uint8Array ? memorySource(input) : input;
  try {
    return await readCentralDirectory(source);
  } catch (err) {
    if (err instanceof PermanentError) throw err;
    // A bogus length that slipped past the bounds checks ends as a RangeError from DataView.
    throw corruptZip(`damaged directory (${(err as Error).message})`, err);
  }
}

async function readCentralDirectory(source: ByteSource): Promise<ZipListing> {
  const size = source.size;
  if (size < 22) throw corruptZip(`${size} bytes is too short for a zip`);
  const short = (what: string) => () => corruptZip(`${what} lies outside the file (truncated or damaged)`);
  // The end-of-central-directory record sits at the end, before a comment of up to 64 KiB.
  const tailStart = Math.max(0, size - 22 - 0xffff - 20);
  const tail = await readExactly(source, tailStart, size - tailStart, short("the end record"));
  const tailView = view(tail);
  let eocd = -1;
  for (let at = tail.length - 22; at >= 0; at--) {
    if (tailView.getUint32(at, true) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw corruptZip("no end-of-central-directory record (truncated or not a zip)");
  let count = tailView.getUint16(eocd + 10, true);
  let directorySize = tailView.getUint32(eocd + 12, true);
  let directoryOffset = tailView.getUint32(eocd + 16, true);
  if (count === 0xffff || directorySize === U32_MAX || directoryOffset === U32_MAX) {
    // ZIP64: the real numbers live in the ZIP64 end record, found through its locator.
    const locatorAt = tailStart + eocd - 20;
    if (locatorAt < 0) throw corruptZip("ZIP64 locator missing");
    const locator = view(await readExactly(source, locatorAt, 20, short("the ZIP64 locator")));
    if (locator.getUint32(0, true) !== EOCD64_LOCATOR) throw corruptZip("ZIP64 locator missing");
    const recordAt = u64(locator, 8);
    if (recordAt + 56 > size) throw corruptZip(`ZIP64 end record at byte ${recordAt} is outside the file`);
    const record = view(await readExactly(source, recordAt, 56, short("the ZIP64 end record")));
    if (record.getUint32(0, true) !== EOCD64) throw corruptZip("ZIP64 end record missing");
    count = u64(record, 32);
    directorySize = u64(record, 40);
    directoryOffset = u64(record, 48);
  }
  if (count > MAX_ENTRIES) throw new PermanentError("zip_too_many_entries", `the archive lists ${count} entries; at most ${MAX_ENTRIES} are read`);
  if (directoryOffset + directorySize > size) {
    throw corruptZip(`the central directory (${directorySize} bytes at ${directoryOffset}) lies outside the ${size}-byte file (truncated?)`);
  }
  if (count * 46 > directorySize) throw corruptZip(`the directory claims ${count} entries in ${directorySize} bytes`);
  if (directorySize > MAX_DIRECTORY_BYTES) {
    throw new PermanentError("zip_too_many_entries", `the central directory is ${directorySize} bytes; at most ${MAX_DIRECTORY_BYTES} are read`);
  }
  const directory = await readExactly(source, directoryOffset, directorySize, short("the central directory"));
  return { entries: parseEntries(directory, count), directoryOffset };
}

function parseEntries(directory: Uint8Array, count: number): ZipEntry[] {
  const dv = view(directory);
  const u16 = (at: number) => dv.getUint16(at, true);
  const u32 = (at: number) => dv.getUint32(at, true);
  const inside = (at: number, length: number) => at >= 0 && at + length <= directory.length;
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (!inside(at, 46) || u32(at) !== CENTRAL) throw corruptZip(`central directory entry ${k + 1} of ${count} is damaged`);
    const flags = u16(at + 8);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    if (!inside(at + 46, nameLength + extraLength + commentLength)) throw corruptZip(`central directory entry ${k + 1} overruns the directory`);
    const name = decoder.decode(directory.subarray(at + 46, at + 46 + nameLength));
    let compressedSize = u32(at + 20);
    let size = u32(at + 24);
    let localHeaderOffset = u32(at + 42);
    // ZIP64 extra field (id 1) holds, in this order, only the values whose 32-bit field is full.
    for (let e = at + 46 + nameLength; e + 4 <= at + 46 + nameLength + extraLength; ) {
      const id = u16(e);
      const length = u16(e + 2);
      if (id === 1) {
        let p = e + 4;
        const fieldEnd = Math.min(e + 4 + length, at + 46 + nameLength + extraLength);
        if (size === U32_MAX && p + 8 <= fieldEnd) {
          size = u64(dv, p);
          p += 8;
        }
        if (compressedSize === U32_MAX && p + 8 <= fieldEnd) {
          compressedSize = u64(dv, p);
          p += 8;
        }
        if (localHeaderOffset === U32_MAX && p + 8 <= fieldEnd) localHeaderOffset = u64(dv, p);
      }
      e += 4 + length;
    }
    entries.push({
      name,
      nameLength,
      method: u16(at + 10),
      compressedSize,
      size,
      crc: u32(at + 16),
      localHeaderOffset,
      encrypted: (flags & 1) === 1,
      isDirectory: name.endsWith("/") || name.endsWith("\\"),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * Refuses archives that no product needs and that unpackers have been tricked by: names that climb
 * out of the archive (`../x.tif`, `a/../../x.tif`) or are absolute (`/etc/x.tif`, `C:\x.tif`),
 * and entries whose data overlap (many entries inflating the same compressed bytes: the
 * non-recursive zip bomb). The normaliser extracts nothing to disk, but such an archive is hostile
 * or broken either way, and saying so is clearer than picking around it.
 */
export function checkArchiveShape(listing: ZipListing): void {
  for (const entry of listing.entries) {
    const name = entry.name.replace(/\\/g, "/");
    if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) {
      throw new PermanentError("zip_absolute_path", `zip entry "${printable(entry.name)}" has an absolute path; entries must be relative to the archive`);
    }
    if (name.split("/").includes("..")) {
      throw new PermanentError("zip_path_traversal", `zip entry "${printable(entry.name)}" climbs out of the archive with "..": refused`);
    }
  }
  const withData = listing.entries.filter((e) => e.compressedSize > 0).sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let k = 0; k < withData.length; k++) {
    const entry = withData[k]!;
    // The local header repeats the name; its extra field may be longer, so this end is a lower bound.
    const end = entry.localHeaderOffset + 30 + entry.nameLength + entry.compressedSize;
    const next = withData[k + 1];
    if (next && end > next.localHeaderOffset) {
      throw new PermanentError(
        "zip_overlapping_entries",
        `zip entries "${printable(entry.name)}" and "${printable(next.name)}" share compressed bytes (an overlapping-entries zip bomb): refused`,
      );
    }
    if (end > listing.directoryOffset) {
      throw new PermanentError("zip_overlapping_entries", `zip entry "${printable(entry.name)}" runs into the central directory: refused`);
    }
  }
}

export interface OpenedEntry {
  /** The entry's bytes: inflated into memory (deflate) or a slice of the archive (stored). */
  source: ByteSource;
  /** Checks the CRC-32 of a large stored entry (a full read: callers run it once their cheap checks pass). */
  verify(): Promise<void>;
}

export interface OpenEntryOptions {
  /** Most bytes a deflated entry may inflate to; its declared size is checked first. */
  maxInflatedBytes: number;
  /** Sees the first bytes (up to 8) before the rest is inflated, and may refuse the entry. */
  checkHead?: (head: Uint8Array) => void;
}

/** Opens one entry for reading; every problem with it is a PermanentError. */
export async function openZipEntry(input: ByteSource | Uint8Array, entry: ZipEntry, options: OpenEntryOptions): Promise<OpenedEntry> {
  const source = input instanceof Uint8Array ? memorySource(input) : input;
  const name = printable(entry.name);
  if (entry.encrypted) throw new PermanentError("unsupported_zip", `zip entry ${name} is encrypted; upload it unencrypted`);
  if (entry.method !== 0 && entry.method !== 8) {
    throw new PermanentError("unsupported_zip", `zip entry ${name} uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
  }
  const header = view(await readExactly(source, entry.localHeaderOffset, 30, () => corruptZip(`local header of ${name} is missing`)));
  if (header.getUint32(0, true) !== LOCAL) throw corruptZip(`local header of ${name} is missing`);
  const start = entry.localHeaderOffset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
  if (start + entry.compressedSize > source.size) {
    throw corruptZip(`${name} is truncated (needs ${start + entry.compressedSize} bytes, the file has ${source.size})`);
  }

  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) throw corruptZip(`stored entry ${name} declares ${entry.size} bytes but holds ${entry.compressedSize}`);
    const slice = sliceSource(source, start, entry.size);
    options.checkHead?.(await slice.read(0, 8));
    // A damaged entry is best reported as such (a CRC error), not as whatever its TIFF parse trips
    // on; but a huge stored entry should not be read whole before its header has been judged.
    if (entry.size <= EAGER_CRC_BYTES) {
      await verifyCrc(slice, entry);
      return { source: slice, verify: async () => undefined };
    }
    return { source: slice, verify: () => verifyCrc(slice, entry) };
  }

  if (entry.size > options.maxInflatedBytes) {
    throw new PermanentError(
      "zip_entry_too_large",
      `zip entry ${name} inflates to ${entry.size} bytes, above MAX_INFLATED_BYTES=${options.maxInflatedBytes} (a zip bomb, or a product too large for this deployment)`,
    );
  }
  if (entry.size > entry.compressedSize * DEFLATE_MAX_RATIO + 1024) {
    throw corruptZip(`${name} claims ${entry.size} bytes from ${entry.compressedSize} compressed bytes, more than deflate can produce`);
  }
  const content = await inflateEntry(source, start, entry, options.checkHead);
  return { source: memorySource(content), verify: async () => undefined };
}

/**
 * Inflates into a buffer of the declared size, checking the CRC. Output past the declared size
 * stops inflating at once: the directory lied, and the entry is refused without ever holding more
 * than the cap. An archive in memory is inflated in one call (Node's zlib, one output buffer of the
 * declared size: about three times faster than a stream); one read by ranges is streamed, so its
 * compressed bytes are never held whole.
 */
async function inflateEntry(source: ByteSource, start: number, entry: ZipEntry, checkHead: OpenEntryOptions["checkHead"]): Promise<Uint8Array> {
  const name = printable(entry.name);
  const beyond = () => corruptZip(`${name} inflates beyond the ${entry.size} bytes its directory entry declares (a zip bomb or a damaged archive)`);
  let out: Uint8Array;
  if (isMemorySource(source)) {
    const compressed = source.bytes.subarray(start, start + entry.compressedSize);
    // A look at the first bytes first: a zip or garbage named .tif is refused before inflating it.
    const head = peek(compressed);
    const headChecked = head.length >= Math.min(8, entry.size);
    if (headChecked) checkHead?.(head.subarray(0, Math.min(8, entry.size)));
    try {
      out = await inflateRawAsync(compressed, { maxOutputLength: Math.max(1, entry.size), chunkSize: Math.max(64, entry.size + 1) });
    } catch (err) {
      if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") throw beyond();
      throw corruptZip(`${name} does not inflate: ${(err as Error).message}`, err);
    }
    if (out.length !== entry.size) throw corruptZip(`${name} inflates to ${out.length} bytes, the directory says ${entry.size}`);
    if (crc32(out) >>> 0 !== entry.crc) throw corruptZip(`${name} fails its CRC-32 check`);
    if (!headChecked) checkHead?.(out.subarray(0, 8));
    return out;
  }

  // allocUnsafeSlow: no pooled slab, and untouched pages cost no memory if the stream ends early.
  const buffer = Buffer.allocUnsafeSlow(entry.size);
  let written = 0;
  let crc = 0;
  let headChecked = false;
  async function* compressed() {
    for (let at = 0; at < entry.compressedSize; at += INFLATE_INPUT_CHUNK) {
      const length = Math.min(INFLATE_INPUT_CHUNK, entry.compressedSize - at);
      yield await readExactly(source, start + at, length, () => corruptZip(`${name} is truncated`));
    }
  }
  // The sink's own refusal is kept: pipeline() may report it as a bare abort of the other streams.
  let refusal: unknown = null;
  try {
    await pipeline(Readable.from(compressed()), createInflateRaw({ chunkSize: INFLATE_OUTPUT_CHUNK }), async (inflated: AsyncIterable<Buffer>) => {
      try {
        for await (const chunk of inflated) {
          if (written + chunk.length > entry.size) throw beyond();
          buffer.set(chunk, written);
          written += chunk.length;
          crc = crc32(chunk, crc);
          if (!headChecked && (written >= 8 || written === entry.size)) {
            headChecked = true;
            checkHead?.(buffer.subarray(0, Math.min(8, written)));
          }
        }
      } catch (err) {
        refusal = err;
        throw err;
      }
    });
  } catch (err) {
    const reason = refusal ?? err;
    if (reason instanceof PermanentError) throw reason;
    throw corruptZip(`${name} does not inflate: ${(reason as Error).message}`, reason);
  }
  if (!headChecked) checkHead?.(buffer.subarray(0, written));
  if (written !== entry.size) throw corruptZip(`${name} inflates to ${written} bytes, the directory says ${entry.size}`);
  if (crc >>> 0 !== entry.crc) throw corruptZip(`${name} fails its CRC-32 check`);
  return buffer;
}

/** The first bytes a deflate stream produces, from its first 256 compressed bytes (≤ 264 KB out). */
function peek(compressed: Uint8Array): Uint8Array {
  try {
    return inflateRawSync(compressed.subarray(0, 256), { finishFlush: constants.Z_SYNC_FLUSH });
  } catch {
    return new Uint8Array(0); // unreadable from the start: the full inflate will say why
  }
}

async function verifyCrc(content: ByteSource, entry: ZipEntry): Promise<void> {
  let crc = 0;
  if (isMemorySource(content)) crc = crc32(content.bytes);
  else await forEachChunk(content, CRC_CHUNK, (chunk) => (crc = crc32(chunk, crc)));
  if (crc >>> 0 !== entry.crc) throw corruptZip(`${printable(entry.name)} fails its CRC-32 check`);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** 64-bit fields beyond 2^53 stay huge (and fail the bounds checks) rather than wrapping. */
function u64(dv: DataView, at: number): number {
  return Number(dv.getBigUint64(at, true));
}

/** Entry names come from the upload: control characters are shown escaped, and long names cut. */
export function printable(name: string): string {
  const escaped = name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return escaped.length > 200 ? `${escaped.slice(0, 199)}…` : escaped;
}
