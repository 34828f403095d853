import { decimalToDouble, POW10 } from "./decimal.ts";

/**
 * A COCO results file read straight from its bytes into columns, for the common shape only:
 *
 *   [{"image_id": 1, "category_id": 3, "bbox": [x, y, w, h], "score": 0.9}, …]
 *
 * `JSON.parse` of a 500,000-detection file builds a million objects and arrays that the evaluator
 * copies into typed arrays at once, and needs the whole file as one string first: on a machine
 * where touching fresh memory is slow, the file buffer and the string alone (twice 72 MB) took a
 * quarter of a whole-process `mlops metrics coco`. This reader pulls the file through one small
 * buffer and fills the columns as it goes.
 *
 * It accepts a strict subset of JSON and returns null for anything else — other keys, a repeated
 * or missing key, strings, nesting, non-ASCII, a value `CocoDetectionResultSchema` would refuse,
 * malformed JSON, an object longer than the look-ahead — so the caller falls back to `JSON.parse`
 * and the zod schema, which stay the authority on what is valid and on what the error says.
 * Numbers become exactly what `JSON.parse` makes of them: a decimal whose digits form a safe
 * integer is that integer divided by an exact power of ten (one correctly rounded operation), up to
 * 19 digits go through `decimalToDouble`, and anything else through `Number()`.
 */
export class DetectionColumns {
  constructor(
    readonly count: number,
    readonly imageId: Float64Array,
    readonly categoryId: Float64Array,
    /** x, y, w, h per detection. */
    readonly bbox: Float64Array,
    readonly score: Float64Array,
  ) {}
}

/**
 * Where the reader pulls bytes from: fills `into[offset, offset + length)` and returns how many
 * bytes it wrote, 0 at the end (a file descriptor's `readSync`, or a buffer already in memory).
 */
export type ByteSource = (into: Uint8Array, offset: number, length: number) => number;

/** Bytes kept ahead of each detection: an object longer than this (odd whitespace) → null. */
const LOOKAHEAD = 4096;
const BUFFER_BYTES = 1 << 20;
/** `{"image_id":0,"category_id":0,"bbox":[0,0,0,0],"score":0},` — no detection is shorter. */
const SHORTEST_DETECTION = 57;
const HEAD_LIMIT = 1e15; // significant digits beyond the 15th go to `tail`
/** Key spellings as bytes, in column order: image_id, category_id, bbox, score. */
const KEYS = ["image_id", "category_id", "bbox", "score"].map((key) => Array.from(key, (c) => c.charCodeAt(0)));

/** A source over bytes already in memory (tests, and text the caller holds anyway). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  let at = 0;
  return (into, offset, length) => {
    const n = Math.min(length, bytes.length - at);
    into.set(bytes.subarray(at, at + n), offset);
    at += n;
    return n;
  };
}

/**
 * Reads detections from `source`. `sizeHint` (the file's size in bytes, when known) sizes the
 * columns once: pages never written are never touched, so the slack costs nothing.
 */
export function readDetectionColumns(source: ByteSource | string, sizeHint = 0): DetectionColumns | null {
  if (typeof source === "string") {
    const bytes = new TextEncoder().encode(source);
    return readDetectionColumns(bytesSource(bytes), bytes.length);
  }
  const buf = new Uint8Array(BUFFER_BYTES + 1);
  let pos = 0;
  let end = 0;
  let eof = false;
  /** Keeps at least LOOKAHEAD bytes (or the rest of the input) after pos; buf[end] is 0. */
  const refill = () => {
    if (eof || end - pos >= LOOKAHEAD) return;
    buf.copyWithin(0, pos, end);
    end -= pos;
    pos = 0;
    while (!eof && end < BUFFER_BYTES) {
      const n = source(buf, end, BUFFER_BYTES - end);
      if (n === 0) eof = true;
      end += n;
    }
    // A sentinel no scanner accepts: reading past the data stops here and returns null.
    buf[end] = 0;
  };

  let capacity = Math.max(16, Math.ceil(sizeHint / SHORTEST_DETECTION) + 1);
  let imageId = new Float64Array(capacity);
  let categoryId = new Float64Array(capacity);
  let bbox = new Float64Array(capacity * 4);
  let score = new Float64Array(capacity);
  let count = 0;

  const skipSpace = () => {
    for (;;) {
      const c = buf[pos];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };

  /** A JSON number at pos (advancing past it), or NaN when the bytes there are not one. */
  const number = (): number => {
    // The hot loop works on locals: `pos` lives in the closure, and every access to it is a load
    // and a store.
    const b = buf;
    const start = pos;
    let p = pos;
    let c = b[p]!;
    const negative = c === 0x2d;
    if (negative) c = b[++p]!;
    if (c === 0x30) {
      c = b[++p]!;
      if (c >= 0x30 && c <= 0x39) return NaN; // a leading zero
    } else if (c < 0x31 || c > 0x39) {
      return NaN;
    }
    let head = 0; // the first 15 significant digits
    let tail = 0; // the next up to 4
    let tailDigits = 0;
    let digits = 0; // significant digits seen
    let scale = 0; // power of ten to apply
    // Significant digits: the first 15 into head, the next 4 into tail, the rest only counted.
    while (c >= 0x30 && c <= 0x39) {
      if (digits > 0 || c !== 0x30) {
        if (head < HEAD_LIMIT / 10) head = head * 10 + (c - 0x30);
        else if (tailDigits < 4) {
          tail = tail * 10 + (c - 0x30);
          tailDigits++;
        }
        digits++;
      }
      c = b[++p]!;
    }
    if (c === 0x2e) {
      c = b[++p]!;
      if (c < 0x30 || c > 0x39) return NaN;
      while (c >= 0x30 && c <= 0x39) {
        if (digits > 0 || c !== 0x30) {
          if (head < HEAD_LIMIT / 10) head = head * 10 + (c - 0x30);
          else if (tailDigits < 4) {
            tail = tail * 10 + (c - 0x30);
            tailDigits++;
          }
          digits++;
        }
        scale--;
        c = b[++p]!;
      }
    }
    let plain = true;
    if (c === 0x65 || c === 0x45) {
      plain = false; // rare in results files: Number() handles exponents
      c = b[++p]!;
      if (c === 0x2b || c === 0x2d) c = b[++p]!;
      if (c < 0x30 || c > 0x39) return NaN;
      while (c >= 0x30 && c <= 0x39) c = b[++p]!;
    }
    pos = p;
    if (plain && digits <= 19) {
      // Every significant digit is in head and tail: the value is (head·10^tailDigits + tail)·10^scale.
      const divisor = -scale;
      if (divisor <= 22) {
        let value: number;
        if (tailDigits === 0) value = head / POW10[divisor]!;
        else if (tailDigits < 2 && head * 10 + tail <= Number.MAX_SAFE_INTEGER) value = (head * 10 + tail) / POW10[divisor]!;
        else value = decimalToDouble(head, tailDigits, tail, divisor);
        if (!Number.isNaN(value)) return negative ? -value : value;
      }
    }
    return Number(String.fromCharCode(...b.subarray(start, p)));
  };

  /** `"key"` at pos (advancing past it and the colon), as an index into KEYS, or −1. */
  const key = (): number => {
    if (buf[pos] !== 0x22) return -1;
    const first = buf[pos + 1];
    const k = first === 0x69 ? 0 : first === 0x63 ? 1 : first === 0x62 ? 2 : first === 0x73 ? 3 : -1;
    if (k < 0) return -1;
    const name = KEYS[k]!;
    for (let i = 1; i < name.length; i++) if (buf[pos + 1 + i] !== name[i]) return -1;
    if (buf[pos + 1 + name.length] !== 0x22) return -1;
    pos += name.length + 2;
    skipSpace();
    if (buf[pos] !== 0x3a) return -1;
    pos++;
    skipSpace();
    return k;
  };

  const grow = () => {
    capacity *= 2;
    const widen = (a: Float64Array, per = 1) => {
      const b = new Float64Array(capacity * per);
      b.set(a);
      return b;
    };
    imageId = widen(imageId);
    categoryId = widen(categoryId);
    bbox = widen(bbox, 4);
    score = widen(score);
  };

  refill();
  skipSpace();
  if (buf[pos] !== 0x5b) return null;
  pos++;
  skipSpace();
  if (buf[pos] === 0x5d) {
    pos++;
  } else {
    for (;;) {
      refill();
      if (buf[pos] !== 0x7b) return null;
      pos++;
      skipSpace();
      if (count === capacity) grow();
      let seen = 0;
      for (;;) {
        const k = key();
        if (k < 0 || seen & (1 << k)) return null;
        seen |= 1 << k;
        if (k === 2) {
          if (buf[pos] !== 0x5b) return null;
          pos++;
          for (let j = 0; j < 4; j++) {
            skipSpace();
            const v = number();
            if (!Number.isFinite(v) || (j >= 2 && v < 0)) return null;
            bbox[count * 4 + j] = v;
            skipSpace();
            if (buf[pos] !== (j < 3 ? 0x2c : 0x5d)) return null;
            pos++;
          }
        } else {
          const v = number();
          if (!Number.isFinite(v)) return null;
          if (k === 3) score[count] = v;
          else if (!Number.isSafeInteger(v)) return null;
          else if (k === 0) imageId[count] = v;
          else categoryId[count] = v;
        }
        skipSpace();
        const c = buf[pos++];
        if (c === 0x7d) break;
        if (c !== 0x2c) return null;
        skipSpace();
      }
      if (seen !== 0b1111) return null;
      count++;
      skipSpace();
      const c = buf[pos++];
      if (c === 0x5d) break;
      if (c !== 0x2c) return null;
      skipSpace();
    }
  }
  // Only whitespace may follow, however much of it.
  for (;;) {
    skipSpace();
    if (pos < end || eof) break;
    refill();
  }
  if (pos !== end || !eof) return null;
  return new DetectionColumns(count, imageId.subarray(0, count), categoryId.subarray(0, count), bbox.subarray(0, count * 4), score.subarray(0, count));
}
