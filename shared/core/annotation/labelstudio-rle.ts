import { PermanentError } from "../../errors.ts";

/**
 * Label Studio's brush RLE (`value.rle` of a `brushlabels` result): NOT COCO's column-major counts
 * and not Encord's `rleString`. It is the bit-packed run-length code of `@thi.ng/rle-pack`
 * (github.com/thi-ng/umbrella, packages/rle-pack), which the editor uses (web/libs/editor/src/utils/
 * canvas.js in HumanSignal/label-studio) and label-studio-converter re-implements in Python
 * (label_studio_converter/brush.py: `encode_rle`, `decode_rle`, `mask2rle`).
 *
 * What is encoded is the RGBA buffer of the whole image: width × height × 4 bytes, row-major from
 * the top-left, each pixel `(a, a, a, a)`; readers look at channel 3 (alpha) only. The stream is
 * read MSB-first: a 32-bit word count, a 5-bit word size − 1, four 4-bit run-length field sizes − 1,
 * then blocks of `flag(1) class(2) n−1(size[class])` followed by one word (flag 1: a run of n) or n
 * words (flag 0: literals), padded with zero bits to a byte. Decoders stop after the word count,
 * so trailing padding (the Python encoder may add a whole 0x00 byte) is harmless: compare decoded
 * masks, never encoded bytes.
 */

/** The sizes Label Studio always writes: 8-bit words, run lengths in 3, 4, 8 or 16 bits. */
const WORD_SIZE = 8;
const RLE_SIZES = [3, 4, 8, 16] as const;

class BitReader {
  private bit = 0;
  constructor(private readonly bytes: Uint8Array) {}

  read(width: number): number {
    let value = 0;
    for (let i = 0; i < width; i++) {
      const byte = this.bit >> 3;
      if (byte >= this.bytes.length) throw new PermanentError("invalid_brush_rle", "brush RLE ends before its word count is reached");
      value = value * 2 + ((this.bytes[byte]! >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return value;
  }
}

class BitWriter {
  private readonly out: number[] = [];
  private current = 0;
  private used = 0;

  write(value: number, width: number): void {
    for (let i = width - 1; i >= 0; i--) {
      this.current = (this.current << 1) | (Math.floor(value / 2 ** i) & 1);
      if (++this.used === 8) {
        this.out.push(this.current);
        this.current = 0;
        this.used = 0;
      }
    }
  }

  /** The bytes, the last one padded with zero bits (as the editor's encoder does). */
  finish(): number[] {
    if (this.used > 0) this.out.push(this.current << (8 - this.used));
    return this.out;
  }
}

/** Decodes a brush RLE into its words (the RGBA buffer: 4 × width × height bytes). */
export function decodeBrushRle(rle: readonly number[] | Uint8Array): Uint8Array {
  for (const b of rle) {
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new PermanentError("invalid_brush_rle", `brush RLE holds ${String(b)}, not a byte`);
  }
  const reader = new BitReader(Uint8Array.from(rle));
  const num = reader.read(32);
  const wordSize = reader.read(5) + 1;
  const sizes = [reader.read(4) + 1, reader.read(4) + 1, reader.read(4) + 1, reader.read(4) + 1];
  if (wordSize > 8) throw new PermanentError("invalid_brush_rle", `brush RLE word size ${wordSize} is not a byte`);
  const out = new Uint8Array(num);
  let at = 0;
  while (at < num) {
    const run = reader.read(1) === 1;
    const n = reader.read(sizes[reader.read(2)]!) + 1;
    if (at + n > num) throw new PermanentError("invalid_brush_rle", `brush RLE block runs past its word count ${num}`);
    if (run) {
      out.fill(reader.read(wordSize), at, at + n);
    } else {
      for (let i = 0; i < n; i++) out[at + i] = reader.read(wordSize);
    }
    at += n;
  }
  return out;
}

/** Encodes words as Label Studio's Python `encode_rle` does (runs ≥ 2 as runs, singles as literals). */
export function encodeBrushRle(words: Uint8Array): number[] {
  const w = new BitWriter();
  w.write(words.length, 32);
  w.write(WORD_SIZE - 1, 5);
  for (const size of RLE_SIZES) w.write(size - 1, 4);
  let i = 0;
  while (i < words.length) {
    const value = words[i]!;
    let end = i + 1;
    while (end < words.length && words[end] === value && end - i < 2 ** 16) end++;
    const n = end - i;
    const cls = n - 1 < 8 ? 0 : n - 1 < 16 ? 1 : n - 1 < 256 ? 2 : 3;
    w.write(n === 1 ? 0 : 1, 1);
    w.write(cls, 2);
    w.write(n - 1, RLE_SIZES[cls]);
    w.write(value, WORD_SIZE);
    i = end;
  }
  return w.finish();
}

/**
 * The alpha channel of a decoded brush as a `width × height` mask. Throws when the RLE does not
 * cover exactly the image (`original_width`/`original_height` disagree with the drawing).
 */
export function brushRleToAlpha(rle: readonly number[] | Uint8Array, width: number, height: number): Uint8Array {
  const words = decodeBrushRle(rle);
  if (words.length !== width * height * 4) {
    throw new PermanentError("invalid_brush_rle", `brush RLE holds ${words.length} values but a ${width}×${height} RGBA image needs ${width * height * 4}`);
  }
  const alpha = new Uint8Array(width * height);
  for (let p = 0; p < alpha.length; p++) alpha[p] = words[p * 4 + 3]!;
  return alpha;
}

/** A mask (0 = off, anything else = on) as a brush RLE, "on" drawn with alpha 255 (fully visible). */
export function maskToBrushRle(mask: Uint8Array): number[] {
  const words = new Uint8Array(mask.length * 4);
  for (let p = 0; p < mask.length; p++) if (mask[p] !== 0) words.fill(255, p * 4, p * 4 + 4);
  return encodeBrushRle(words);
}
