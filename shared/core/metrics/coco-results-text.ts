/**
 * A COCO results file read straight into columns, for the common shape only:
 *
 *   [{"image_id": 1, "category_id": 3, "bbox": [x, y, w, h], "score": 0.9}, …]
 *
 * `JSON.parse` of a 500,000-detection file builds a million objects and arrays that the evaluator
 * copies into typed arrays at once; most of a whole-process `mlops metrics coco` went to that
 * parse and its garbage collection. This reader scans the text once and fills the columns.
 *
 * It accepts a strict subset of JSON and returns null for anything else — other keys, a repeated
 * or missing key, strings, nesting, non-ASCII, a value `CocoDetectionResultSchema` would refuse,
 * malformed JSON — so the caller falls back to `JSON.parse` and the zod schema, which stay the
 * authority on what is valid and on what the error says. Numbers become exactly what `JSON.parse`
 * makes of them: a decimal whose digits form a safe integer is that exact integer divided by an
 * exact power of ten (one correctly rounded operation); anything longer goes through `Number()`.
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

const KEYS = ["image_id", "category_id", "bbox", "score"] as const;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i); // exact doubles up to 1e22

export function readDetectionColumns(text: string): DetectionColumns | null {
  const n = text.length;
  let pos = 0;
  let capacity = 1024;
  let imageId = new Float64Array(capacity);
  let categoryId = new Float64Array(capacity);
  let bbox = new Float64Array(capacity * 4);
  let score = new Float64Array(capacity);
  let count = 0;

  const skipSpace = () => {
    while (pos < n) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };

  /** A JSON number at pos (advancing past it), or NaN when the text there is not one. */
  const number = (): number => {
    const start = pos;
    let c = text.charCodeAt(pos);
    const negative = c === 0x2d;
    if (negative) c = text.charCodeAt(++pos);
    if (c === 0x30) {
      c = text.charCodeAt(++pos);
      if (c >= 0x30 && c <= 0x39) return NaN; // a leading zero
    } else if (c < 0x31 || c > 0x39) {
      return NaN;
    }
    let mantissa = 0;
    let digits = 0; // significant digits seen
    let scale = 0; // power of ten to apply
    let exact = true;
    while (c >= 0x30 && c <= 0x39) {
      if (digits > 0 || c !== 0x30) {
        const next = mantissa * 10 + (c - 0x30);
        // Exact while it stays an integer a double holds (JSON.stringify writes up to 17 digits).
        if (next <= Number.MAX_SAFE_INTEGER) mantissa = next;
        else exact = false;
        digits++;
      }
      c = text.charCodeAt(++pos);
    }
    if (c === 0x2e) {
      c = text.charCodeAt(++pos);
      if (c < 0x30 || c > 0x39) return NaN;
      while (c >= 0x30 && c <= 0x39) {
        if (digits > 0 || c !== 0x30) {
          const next = mantissa * 10 + (c - 0x30);
          if (next <= Number.MAX_SAFE_INTEGER) mantissa = next;
          else exact = false;
          digits++;
        }
        if (exact) scale--;
        c = text.charCodeAt(++pos);
      }
    }
    if (c === 0x65 || c === 0x45) {
      exact = false; // rare in results files: Number() handles exponents
      c = text.charCodeAt(++pos);
      if (c === 0x2b || c === 0x2d) c = text.charCodeAt(++pos);
      if (c < 0x30 || c > 0x39) return NaN;
      while (c >= 0x30 && c <= 0x39) c = text.charCodeAt(++pos);
    }
    if (exact && scale >= -22) {
      const value = scale < 0 ? mantissa / POW10[-scale]! : mantissa;
      return negative ? -value : value;
    }
    return Number(text.slice(start, pos));
  };

  /** `"key"` at pos (advancing past it and the colon), as an index into KEYS, or −1. */
  const key = (): number => {
    if (text.charCodeAt(pos) !== 0x22) return -1;
    const end = text.indexOf('"', pos + 1);
    if (end < 0) return -1;
    const name = text.slice(pos + 1, end);
    pos = end + 1;
    skipSpace();
    if (text.charCodeAt(pos) !== 0x3a) return -1;
    pos++;
    skipSpace();
    return (KEYS as readonly string[]).indexOf(name);
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

  skipSpace();
  if (text.charCodeAt(pos) !== 0x5b) return null;
  pos++;
  skipSpace();
  if (text.charCodeAt(pos) === 0x5d) {
    pos++;
  } else {
    for (;;) {
      if (text.charCodeAt(pos) !== 0x7b) return null;
      pos++;
      skipSpace();
      if (count === capacity) grow();
      let seen = 0;
      for (;;) {
        const k = key();
        if (k < 0 || seen & (1 << k)) return null;
        seen |= 1 << k;
        if (k === 2) {
          if (text.charCodeAt(pos) !== 0x5b) return null;
          pos++;
          for (let j = 0; j < 4; j++) {
            skipSpace();
            const v = number();
            if (!Number.isFinite(v) || (j >= 2 && v < 0)) return null;
            bbox[count * 4 + j] = v;
            skipSpace();
            if (text.charCodeAt(pos) !== (j < 3 ? 0x2c : 0x5d)) return null;
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
        const c = text.charCodeAt(pos++);
        if (c === 0x7d) break;
        if (c !== 0x2c) return null;
        skipSpace();
      }
      if (seen !== 0b1111) return null;
      count++;
      skipSpace();
      const c = text.charCodeAt(pos++);
      if (c === 0x5d) break;
      if (c !== 0x2c) return null;
      skipSpace();
    }
  }
  skipSpace();
  if (pos !== n) return null;
  return new DetectionColumns(count, imageId.subarray(0, count), categoryId.subarray(0, count), bbox.subarray(0, count * 4), score.subarray(0, count));
}
