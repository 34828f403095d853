/**
 * Reads one entry out of an in-memory zip through the central directory.
 *
 * Why not fflate here (it writes our zips): its pure-JS inflate needs 130–250 ms for a 16 MB
 * product TIFF where Node's native zlib needs about a third of that, and the normaliser's whole
 * budget is 0.4 s. Reading the directory ourselves also lets us refuse zip bombs (output is capped
 * at the declared size) and verify each entry's CRC-32.
 */
import { promisify } from "node:util";
import { crc32, inflateRaw } from "node:zlib";
import { PermanentError } from "../../errors.ts";

const inflateRawAsync = promisify(inflateRaw);

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate; anything else is refused when read. */
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localHeaderOffset: number;
  encrypted: boolean;
  isDirectory: boolean;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const U32_MAX = 0xffff_ffff;

function corrupt(message: string, cause?: unknown): PermanentError {
  return new PermanentError("corrupt_zip", `not a readable zip archive: ${message}`, cause === undefined ? undefined : { cause });
}

/** The archive's entries from its central directory; PermanentError("corrupt_zip") when unreadable. */
export function listZipEntries(zip: Uint8Array): ZipEntry[] {
  try {
    return readCentralDirectory(zip);
  } catch (err) {
    if (err instanceof PermanentError) throw err;
    // A bogus length that slipped past the bounds checks ends as a RangeError from DataView.
    throw corrupt(`damaged directory (${(err as Error).message})`, err);
  }
}

function readCentralDirectory(zip: Uint8Array): ZipEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  const inside = (at: number, length: number) => at >= 0 && at + length <= zip.length;

  // The end-of-central-directory record sits at the end, before a comment of up to 64 KiB.
  let eocd = -1;
  for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - 0xffff); at--) {
    if (u32(at) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw corrupt("no end-of-central-directory record (truncated or not a zip)");
  let count = u16(eocd + 10);
  let directoryOffset = u32(eocd + 16);
  if (count === 0xffff || directoryOffset === U32_MAX) {
    // ZIP64: the real numbers live in the ZIP64 end record, found through its locator.
    const locator = eocd - 20;
    if (!inside(locator, 20) || u32(locator) !== EOCD64_LOCATOR) throw corrupt("ZIP64 locator missing");
    const record = u64(locator + 8);
    if (!inside(record, 56) || u32(record) !== EOCD64) throw corrupt("ZIP64 end record missing");
    count = u64(record + 32);
    directoryOffset = u64(record + 48);
  }

  const entries: ZipEntry[] = [];
  let at = directoryOffset;
  for (let k = 0; k < count; k++) {
    if (!inside(at, 46) || u32(at) !== CENTRAL) throw corrupt(`central directory entry ${k + 1} of ${count} is damaged`);
    const flags = u16(at + 8);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    if (!inside(at + 46, nameLength + extraLength + commentLength)) throw corrupt(`central directory entry ${k + 1} overruns the file`);
    const name = new TextDecoder().decode(zip.subarray(at + 46, at + 46 + nameLength));
    let compressedSize = u32(at + 20);
    let size = u32(at + 24);
    let localHeaderOffset = u32(at + 42);
    // ZIP64 extra field (id 1) holds, in this order, only the values whose 32-bit field is full.
    for (let e = at + 46 + nameLength; e + 4 <= at + 46 + nameLength + extraLength; ) {
      const id = u16(e);
      const length = u16(e + 2);
      if (id === 1) {
        let p = e + 4;
        const fieldEnd = e + 4 + length;
        if (size === U32_MAX && p + 8 <= fieldEnd) {
          size = u64(p);
          p += 8;
        }
        if (compressedSize === U32_MAX && p + 8 <= fieldEnd) {
          compressedSize = u64(p);
          p += 8;
        }
        if (localHeaderOffset === U32_MAX && p + 8 <= fieldEnd) localHeaderOffset = u64(p);
      }
      e += 4 + length;
    }
    entries.push({
      name,
      method: u16(at + 10),
      compressedSize,
      size,
      crc: u32(at + 16),
      localHeaderOffset,
      encrypted: (flags & 1) === 1,
      isDirectory: name.endsWith("/"),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The entry's content, inflated and CRC-checked. */
export async function readZipEntry(zip: Uint8Array, entry: ZipEntry): Promise<Uint8Array> {
  if (entry.encrypted) throw new PermanentError("unsupported_zip", `zip entry ${entry.name} is encrypted`);
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const header = entry.localHeaderOffset;
  if (header + 30 > zip.length || view.getUint32(header, true) !== LOCAL) throw corrupt(`local header of ${entry.name} is missing`);
  const start = header + 30 + view.getUint16(header + 26, true) + view.getUint16(header + 28, true);
  const end = start + entry.compressedSize;
  if (end > zip.length) throw corrupt(`${entry.name} is truncated (needs ${end} bytes, the file has ${zip.length})`);
  const compressed = zip.subarray(start, end);

  let content: Uint8Array;
  if (entry.method === 0) {
    content = compressed;
  } else if (entry.method === 8) {
    try {
      // Capping the output at the declared size turns a zip bomb into an error, not an OOM.
      // One output chunk a byte larger than the entry: zlib returns it without a concat copy.
      // (Capped, so a lying directory cannot make us reserve gigabytes up front.)
      const chunkSize = Math.max(64, Math.min(entry.size + 1, 256 * 1024 * 1024));
      content = await inflateRawAsync(compressed, { maxOutputLength: Math.max(1, entry.size), chunkSize });
    } catch (err) {
      throw corrupt(`${entry.name} does not inflate: ${(err as Error).message}`, err);
    }
  } else {
    throw new PermanentError("unsupported_zip", `zip entry ${entry.name} uses compression method ${entry.method}; only stored and deflate are supported`);
  }
  if (content.length !== entry.size) throw corrupt(`${entry.name} inflates to ${content.length} bytes, the directory says ${entry.size}`);
  if (crc32(content) !== entry.crc) throw corrupt(`${entry.name} fails its CRC-32 check`);
  return content;
}
