/**
 * Opens one zip entry: a deflated entry is inflated into a buffer of its declared size (checked
 * against the cap first) and stops the moment it would exceed it; a stored entry is not copied at
 * all: it is read in place, as a slice of the archive. Encrypted entries and methods other than
 * stored and deflate are refused.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { constants, crc32, createInflateRaw, inflateRaw, inflateRawSync } from "node:zlib";
import { PermanentError } from "../../errors.ts";
import type { ByteSource } from "../../ports.ts";
import { forEachChunk, isMemorySource, memorySource, readExactly, releasableSource, sliceSource } from "./byte-source.ts";
import { corruptZip, printable, view, type ZipEntry } from "./zip-reader.ts";

const LOCAL = 0x04034b50;
/** Deflate's best case is 1032:1 (258-byte matches in 2-bit codes); a larger claim is a lie. */
const DEFLATE_MAX_RATIO = 1032;
const inflateRawAsync = promisify(inflateRaw);
const INFLATE_INPUT_CHUNK = 4 * 1024 * 1024;
const INFLATE_OUTPUT_CHUNK = 1024 * 1024;
const CRC_CHUNK = 8 * 1024 * 1024;
/** Stored entries up to this size are checksummed when opened; larger ones once cheap checks pass. */
const EAGER_CRC_BYTES = 64 * 1024 * 1024;

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
  return { source: releasableSource(content), verify: async () => undefined };
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
