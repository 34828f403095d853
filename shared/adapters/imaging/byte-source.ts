/**
 * Byte sources for the normaliser: an upload is read piecewise (zip directory, TIFF header and
 * tags, strips and tiles), never whole, unless it is small enough to hold.
 */
import { PermanentError } from "../../errors.ts";
import type { ByteSource } from "../../ports.ts";

/** A source over bytes already in memory: reads are views, never copies (callers must not write). */
export interface MemorySource extends ByteSource {
  readonly bytes: Uint8Array;
}

export function memorySource(bytes: Uint8Array): MemorySource {
  return {
    bytes,
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + Math.max(0, length))),
  };
}

/**
 * A source over bytes this process made for one use (an inflated zip entry): `release()` drops
 * them, so the raster decoded from them and the bytes are not both held while the PNGs are made.
 */
export function releasableSource(initial: Uint8Array): MemorySource & { release(): void } {
  let bytes: Uint8Array | null = initial;
  const held = (): Uint8Array => {
    if (!bytes) throw new Error("read from a released byte source");
    return bytes;
  };
  return {
    get bytes() {
      return held();
    },
    size: initial.length,
    read: async (offset, length) => held().subarray(offset, Math.min(held().length, offset + Math.max(0, length))),
    release: () => {
      bytes = null;
    },
  };
}

export function isMemorySource(source: ByteSource): source is MemorySource {
  return "bytes" in source && (source as Partial<MemorySource>).bytes instanceof Uint8Array;
}

/** `length` bytes of `source` from `start` on, as a source of its own (a stored zip entry). */
export function sliceSource(source: ByteSource, start: number, length: number): ByteSource {
  if (isMemorySource(source)) return memorySource(source.bytes.subarray(start, start + length));
  return {
    size: length,
    read: (offset, count) => {
      const clamped = Math.max(0, Math.min(count, length - offset));
      return clamped === 0 ? Promise.resolve(new Uint8Array(0)) : source.read(start + offset, clamped);
    },
  };
}

/** Exactly `length` bytes from `offset`, or the PermanentError `short()` returns. */
export async function readExactly(source: ByteSource, offset: number, length: number, short: (got: number) => PermanentError): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > source.size) throw short(Math.max(0, Math.min(length, source.size - offset)));
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) throw short(bytes.length);
  return bytes;
}

/** Reads the whole source in chunks, for hashing and checksums in bounded memory. */
export async function forEachChunk(source: ByteSource, chunkBytes: number, visit: (chunk: Uint8Array) => void): Promise<void> {
  if (isMemorySource(source)) {
    visit(source.bytes);
    return;
  }
  for (let at = 0; at < source.size; at += chunkBytes) {
    const chunk = await source.read(at, Math.min(chunkBytes, source.size - at));
    if (chunk.length === 0) throw new PermanentError("truncated_object", `the upload ended at byte ${at} of ${source.size} while being read`);
    visit(chunk);
  }
}

const BLOCK_BYTES = 4 * 1024 * 1024;
const BLOCKS_KEPT = 4;

/**
 * Serves small reads (TIFF tags, strips, the zip directory) from aligned 4 MiB blocks of a remote
 * or on-disk source, keeping the last four: a product's thousands of small reads become a few
 * dozen requests, in at most 16 MiB. Reads of a block or more go straight through.
 */
export function blockCachedSource(source: ByteSource): ByteSource {
  if (isMemorySource(source)) return source;
  const blocks = new Map<number, Promise<Uint8Array>>();
  const block = (index: number): Promise<Uint8Array> => {
    let pending = blocks.get(index);
    if (pending) {
      blocks.delete(index); // re-inserted below: Map order is the recency order
    } else {
      const start = index * BLOCK_BYTES;
      pending = source.read(start, Math.min(BLOCK_BYTES, source.size - start));
      // A failed read must not stay cached: the next attempt asks again.
      pending.catch(() => blocks.delete(index));
    }
    blocks.set(index, pending);
    while (blocks.size > BLOCKS_KEPT) blocks.delete(blocks.keys().next().value!);
    return pending;
  };
  return {
    size: source.size,
    async read(offset, length) {
      const end = Math.min(source.size, offset + Math.max(0, length));
      if (end <= offset) return new Uint8Array(0);
      if (end - offset >= BLOCK_BYTES) return source.read(offset, end - offset);
      const first = Math.floor(offset / BLOCK_BYTES);
      const last = Math.floor((end - 1) / BLOCK_BYTES);
      if (first === last) {
        const data = await block(first);
        return data.subarray(offset - first * BLOCK_BYTES, end - first * BLOCK_BYTES);
      }
      const [a, b] = await Promise.all([block(first), block(last)]);
      const out = new Uint8Array(end - offset);
      const split = last * BLOCK_BYTES - offset;
      out.set(a.subarray(offset - first * BLOCK_BYTES), 0);
      out.set(b.subarray(0, end - last * BLOCK_BYTES), split);
      return out;
    },
  };
}
