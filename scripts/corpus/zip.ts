/**
 * A zip writer for the hostile corpus: every field is the caller's to set (or to lie in), and the
 * output is byte-for-byte deterministic (fixed 1980-01-01 timestamps, fflate's pure-JS deflate).
 */
import { Deflate, deflateSync } from "fflate";
import { crc32 } from "node:zlib";

export interface RawEntry {
  name: string;
  /** The bytes as they sit in the archive (already compressed for method 8). */
  data: Uint8Array;
  method: number;
  /** Declared uncompressed size. */
  size: number;
  crc: number;
  flags?: number;
  /** Write sizes and offset as 0xFFFFFFFF with a ZIP64 extra field. */
  zip64?: boolean;
  /** Point the central entry at this local header offset instead of the entry's own. */
  localHeaderOffset?: number;
  /** Leave the local header and data out (for entries that reuse another's). */
  centralOnly?: boolean;
}

export function stored(name: string, content: Uint8Array): RawEntry {
  return { name, data: content, method: 0, size: content.length, crc: crc32(content) };
}

export function deflated(name: string, content: Uint8Array): RawEntry {
  return { name, data: deflateSync(content, { level: 6 }), method: 8, size: content.length, crc: crc32(content) };
}

const DOS_DATE_1980 = 0x21; // 1980-01-01, time 00:00

export interface ZipOptions {
  /** Write a ZIP64 end record and locator (sizes in the classic end record set to their maximum). */
  zip64End?: boolean;
  /** Overrides applied to the classic end record after it is written. */
  patchEnd?: (end: DataView) => void;
}

export function writeZip(entries: RawEntry[], options: ZipOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const push = (bytes: Uint8Array) => {
    parts.push(bytes);
    offset += bytes.length;
  };
  const offsets: number[] = [];
  for (const entry of entries) {
    offsets.push(entry.localHeaderOffset ?? offset);
    if (entry.centralOnly) continue;
    const name = new TextEncoder().encode(entry.name);
    const header = new DataView(new ArrayBuffer(30));
    header.setUint32(0, 0x04034b50, true);
    header.setUint16(4, entry.zip64 ? 45 : 20, true);
    header.setUint16(6, entry.flags ?? 0, true);
    header.setUint16(8, entry.method, true);
    header.setUint16(12, DOS_DATE_1980, true);
    header.setUint32(14, entry.crc, true);
    header.setUint32(18, entry.zip64 ? 0xffffffff : entry.data.length, true);
    header.setUint32(22, entry.zip64 ? 0xffffffff : entry.size, true);
    header.setUint16(26, name.length, true);
    push(new Uint8Array(header.buffer));
    push(name);
    push(entry.data);
  }
  const directoryStart = offset;
  entries.forEach((entry, k) => {
    const name = new TextEncoder().encode(entry.name);
    const extra = entry.zip64 ? zip64Extra(entry.size, entry.data.length, offsets[k]!) : new Uint8Array(0);
    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, entry.zip64 ? 45 : 20, true);
    central.setUint16(6, entry.zip64 ? 45 : 20, true);
    central.setUint16(8, entry.flags ?? 0, true);
    central.setUint16(10, entry.method, true);
    central.setUint16(14, DOS_DATE_1980, true);
    central.setUint32(16, entry.crc, true);
    central.setUint32(20, entry.zip64 ? 0xffffffff : entry.data.length, true);
    central.setUint32(24, entry.zip64 ? 0xffffffff : entry.size, true);
    central.setUint16(28, name.length, true);
    central.setUint16(30, extra.length, true);
    central.setUint32(42, entry.zip64 ? 0xffffffff : offsets[k]!, true);
    push(new Uint8Array(central.buffer));
    push(name);
    push(extra);
  });
  const directorySize = offset - directoryStart;
  if (options.zip64End) {
    const recordAt = offset;
    const record = new DataView(new ArrayBuffer(56));
    record.setUint32(0, 0x06064b50, true);
    record.setBigUint64(4, 44n, true);
    record.setUint16(12, 45, true);
    record.setUint16(14, 45, true);
    record.setBigUint64(24, BigInt(entries.length), true);
    record.setBigUint64(32, BigInt(entries.length), true);
    record.setBigUint64(40, BigInt(directorySize), true);
    record.setBigUint64(48, BigInt(directoryStart), true);
    push(new Uint8Array(record.buffer));
    const locator = new DataView(new ArrayBuffer(20));
    locator.setUint32(0, 0x07064b50, true);
    locator.setBigUint64(8, BigInt(recordAt), true);
    locator.setUint32(16, 1, true);
    push(new Uint8Array(locator.buffer));
  }
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, options.zip64End ? 0xffff : entries.length, true);
  end.setUint16(10, options.zip64End ? 0xffff : entries.length, true);
  end.setUint32(12, options.zip64End ? 0xffffffff : directorySize, true);
  end.setUint32(16, options.zip64End ? 0xffffffff : directoryStart, true);
  options.patchEnd?.(end);
  push(new Uint8Array(end.buffer));
  return concat(parts);
}

function zip64Extra(size: number, compressedSize: number, localHeaderOffset: number): Uint8Array {
  const extra = new DataView(new ArrayBuffer(28));
  extra.setUint16(0, 1, true);
  extra.setUint16(2, 24, true);
  extra.setBigUint64(4, BigInt(size), true);
  extra.setBigUint64(12, BigInt(compressedSize), true);
  extra.setBigUint64(20, BigInt(localHeaderOffset), true);
  return new Uint8Array(extra.buffer);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const MIB = 1024 * 1024;
let zeroPiece: Uint8Array | null = null;

/**
 * A raw deflate stream of `prefix` (stored) followed by `zeroMiB` MiB of zeros, built from
 * independent byte-aligned pieces: deflating 16 MiB of zeros once and repeating that piece is
 * exact (it only refers back to zeros) and takes a second instead of half a minute per GiB.
 */
export function deflatedZeros(prefix: Uint8Array, zeroMiB: number): Uint8Array {
  if (zeroMiB % 16 !== 0) throw new RangeError("zeroMiB must be a multiple of 16");
  const piece = (bytes: Uint8Array): Uint8Array => {
    const chunks: Uint8Array[] = [];
    const deflate = new Deflate({ level: 9 }, (chunk) => chunks.push(chunk));
    deflate.push(bytes);
    deflate.flush(true); // sync flush: byte-aligned, not final
    return concat(chunks);
  };
  zeroPiece ??= piece(new Uint8Array(16 * MIB));
  const parts = [storedBlocks(prefix)];
  for (let k = 0; k < zeroMiB / 16; k++) parts.push(zeroPiece);
  parts.push(Uint8Array.from([0x03, 0x00])); // a final, empty fixed-Huffman block
  return concat(parts);
}

/**
 * `bytes` as non-final stored deflate blocks (a one-byte header, LEN, NLEN, the bytes). Written by
 * hand: fflate 0.8's sync flush mis-frames stored blocks past 64 KiB.
 */
function storedBlocks(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 0xffff) {
    const block = bytes.subarray(at, Math.min(bytes.length, at + 0xffff));
    const header = new DataView(new ArrayBuffer(5));
    header.setUint8(0, 0); // BFINAL 0, BTYPE 00, padded to the byte boundary
    header.setUint16(1, block.length, true);
    header.setUint16(3, ~block.length & 0xffff, true);
    parts.push(new Uint8Array(header.buffer), block);
  }
  return concat(parts);
}

/** CRC-32 of `prefix` followed by `zeroMiB` MiB of zeros, without holding the zeros. */
export function crcOfZeros(prefix: Uint8Array, zeroMiB: number): number {
  const zeros = new Uint8Array(MIB);
  let crc = crc32(prefix);
  for (let k = 0; k < zeroMiB; k++) crc = crc32(zeros, crc);
  return crc;
}
