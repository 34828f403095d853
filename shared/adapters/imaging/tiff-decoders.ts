/**
 * Bounded block decoders for geotiff.js.
 *
 * geotiff.js's own decoders trust the data: deflate (pako) and LZW and PackBits (JavaScript arrays
 * grown one byte at a time) inflate whatever a strip or tile holds, so a few hundred kilobytes of
 * crafted data become gigabytes. These replacements write into a buffer the size of the block the
 * directory describes and stop there. Registered once, for the compressions the product path reads
 * through geotiff.js; others are refused before any block is read (see `SUPPORTED_COMPRESSIONS`).
 */
import { inflateSync } from "node:zlib";
import { addDecoder, getDecoder } from "geotiff";
import { blockBytes, type BlockParameters } from "./tiff-blocks.ts";

type GeotiffDecoderParameters = Parameters<typeof getDecoder>[1];


abstract class BoundedDecoder {
  constructor(readonly parameters: BlockParameters) {}

  protected abstract decodeBlock(input: Uint8Array, capacity: number): Uint8Array;

  async decode(buffer: ArrayBuffer): Promise<ArrayBuffer> {
    const decoded = this.decodeBlock(new Uint8Array(buffer), blockBytes(this.parameters));
    // The predictor makes views from offset 0 of the buffer it gets: hand it an exact one.
    // (`new Uint8Array(view)` copies; a Buffer's `slice` would not.)
    const exact = decoded.byteOffset === 0 && decoded.byteLength === decoded.buffer.byteLength ? (decoded.buffer as ArrayBuffer) : new Uint8Array(decoded).buffer;
    if (this.parameters.predictor === 1) return exact;
    // geotiff.js's raw decoder applies the predictor to what it is given.
    const raw = await getDecoder(1, this.parameters as unknown as GeotiffDecoderParameters);
    return (await raw.decode(exact)) as ArrayBuffer;
  }
}

class DeflateDecoder extends BoundedDecoder {
  protected decodeBlock(input: Uint8Array, capacity: number): Uint8Array {
    // maxOutputLength turns a block that inflates past its size into an error, not an allocation.
    return inflateSync(input, { maxOutputLength: Math.max(1, capacity) });
  }
}

class PackBitsDecoder extends BoundedDecoder {
  protected decodeBlock(input: Uint8Array, capacity: number): Uint8Array {
    const out = new Uint8Array(capacity);
    let o = 0;
    for (let i = 0; i < input.length && o < capacity; ) {
      const header = (input[i++]! << 24) >> 24; // signed byte
      if (header >= 0) {
        const n = Math.min(header + 1, capacity - o, input.length - i);
        out.set(input.subarray(i, i + n), o);
        o += n;
        i += header + 1;
      } else if (header !== -128) {
        const n = Math.min(1 - header, capacity - o);
        out.fill(input[i++] ?? 0, o, o + n);
        o += n;
      }
    }
    return out.subarray(0, o);
  }
}

/** TIFF LZW (MSB-first codes of 9–12 bits, "early change"), as libtiff writes it. */
class LzwDecoder extends BoundedDecoder {
  protected decodeBlock(input: Uint8Array, capacity: number): Uint8Array {
    const CLEAR = 256;
    const END = 257;
    const prefix = new Int16Array(4096);
    const suffix = new Uint8Array(4096);
    const length = new Uint16Array(4096);
    for (let c = 0; c < 256; c++) {
      prefix[c] = -1;
      suffix[c] = c;
      length[c] = 1;
    }
    const out = new Uint8Array(capacity);
    let o = 0;
    let next = 258;
    let width = 9;
    let previous = -1;
    // Codes are read MSB-first through a small bit buffer (at most 19 bits are ever held).
    let bits = 0;
    let bitCount = 0;
    let byte = 0;
    const readCode = (): number => {
      while (bitCount < width) {
        if (byte >= input.length) return END; // ran out before an end code: stop, as libtiff does
        bits = (bits << 8) | input[byte++]!;
        bitCount += 8;
      }
      bitCount -= width;
      const code = (bits >>> bitCount) & ((1 << width) - 1);
      bits &= (1 << bitCount) - 1;
      return code;
    };
    /** Writes the string of `code` at `o`; returns its first byte. Stops at the block's end. */
    const emit = (code: number): number => {
      const n = length[code]!;
      let c = code;
      for (let k = n - 1; k >= 0; k--) {
        if (o + k < capacity) out[o + k] = suffix[c]!;
        if (k > 0) c = prefix[c]!;
      }
      o = Math.min(capacity, o + n);
      return suffix[c]!;
    };
    while (o < capacity) {
      const code = readCode();
      if (code === END) break;
      if (code === CLEAR) {
        next = 258;
        width = 9;
        previous = -1;
        continue;
      }
      if (previous === -1) {
        if (code > 255) throw new Error(`LZW: code ${code} where a literal must start`);
        emit(code);
        previous = code;
        continue;
      }
      let first: number;
      if (code < next) {
        first = emit(code);
      } else if (code === next) {
        // The KwKwK case: the string of the previous code plus its own first byte.
        first = emit(previous);
        if (o < capacity) out[o++] = first;
      } else {
        throw new Error(`LZW: code ${code} is not in the table (next is ${next})`);
      }
      if (next < 4096) {
        prefix[next] = previous;
        suffix[next] = first;
        length[next] = length[previous]! + 1;
        next++;
      }
      previous = code;
      if (next + 1 >= 1 << width && width < 12) width++;
    }
    return out.subarray(0, o);
  }
}

function registerOnce(): void {
  const parameters = async (directory: { loadValue(tag: string): Promise<unknown>; hasTag(tag: string): boolean }): Promise<BlockParameters> => {
    const tiled = !directory.hasTag("StripOffsets");
    const imageHeight = Number(await directory.loadValue("ImageLength"));
    const bits = await directory.loadValue("BitsPerSample");
    const rows = tiled ? Number(await directory.loadValue("TileLength")) : Number((await directory.loadValue("RowsPerStrip")) ?? imageHeight) || imageHeight;
    return {
      tileWidth: Number(await directory.loadValue(tiled ? "TileWidth" : "ImageWidth")),
      // RowsPerStrip may say 2^32−1 for "one strip": a block never holds more rows than the image.
      tileHeight: tiled ? rows : Math.min(rows, imageHeight),
      planarConfiguration: Number((await directory.loadValue("PlanarConfiguration")) ?? 1),
      bitsPerSample: typeof bits === "number" ? [bits] : Array.from(bits as ArrayLike<number>, Number),
      predictor: Number((await directory.loadValue("Predictor")) ?? 1) || 1,
    };
  };
  const register = (cases: number[], Decoder: new (p: BlockParameters) => BoundedDecoder) =>
    addDecoder(cases, async () => Decoder as never, parameters as never, false);
  register([8, 32946], DeflateDecoder);
  register([5], LzwDecoder);
  register([32773], PackBitsDecoder);
}

registerOnce();

/** For tests: decodes one block with the bounded decoder for `compression`. */
export function decodeBlockForTest(compression: 5 | 8 | 32773, input: Uint8Array, capacity: number): Uint8Array {
  const p: BlockParameters = { tileWidth: capacity, tileHeight: 1, planarConfiguration: 1, bitsPerSample: [8], predictor: 1 };
  const decoder = compression === 5 ? new LzwDecoder(p) : compression === 8 ? new DeflateDecoder(p) : new PackBitsDecoder(p);
  return (decoder as unknown as { decodeBlock(i: Uint8Array, c: number): Uint8Array }).decodeBlock(input, capacity);
}
