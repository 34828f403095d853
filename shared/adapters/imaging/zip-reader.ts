/**
 * Reads a zip archive by ranges: the central directory, then one entry.
 *
 * Why not fflate here (it writes our zips): it needs the whole archive in memory, and its pure-JS
 * inflate is about three times slower than Node's zlib on a product TIFF. Reading the directory
 * ourselves lets us refuse hostile archives before spending memory on them: entries whose declared
 * size is above the cap, names that climb out of the archive or are absolute, entries that overlap
 * (the "better zip bomb"). Opening an entry is `zip-entry.ts`.
 */
import { PermanentError } from "../../errors.ts";
import type { ByteSource } from "../../ports.ts";
import { memorySource, readExactly } from "./byte-source.ts";

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
const U32_MAX = 0xffff_ffff;
/** A product has tens to hundreds of files; a directory beyond these is an attack or an accident. */
const MAX_ENTRIES = 100_000;
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

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

export function view(bytes: Uint8Array): DataView {
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
