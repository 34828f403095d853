/**
 * Decimal significands too long for one double, rounded exactly as `JSON.parse` / `Number()` round
 * them (to nearest), without building a string.
 *
 * `JSON.stringify` writes the shortest decimal that round-trips, which for a score or a box
 * coordinate is 16 or 17 significant digits: 17 digits is more than a double's 53-bit integer
 * range, so the one-division fast path (an exact integer over an exact power of ten) does not
 * apply. Calling `Number(text)` for each of them was a quarter of reading a large results file.
 *
 * Here the significand M = head·10^tailDigits + tail is held exactly as a sum of two doubles, and
 * the quotient c = M / 10^s is checked, not trusted: c·10^s − M is computed to within about
 * 2^-103·M (Dekker's exact product, Sterbenz-exact subtraction), and c is returned only when that
 * residual is clearly below half the gap to c's neighbour on the exact value's side. Otherwise
 * that neighbour is tried the same way, and if neither is clearly nearest (an exact tie, or one
 * closer than 2^-90·M) the caller falls back to `Number()`.
 */

const SPLITTER = 134217729; // 2^27 + 1, Veltkamp's split for Dekker's exact product
const MARGIN = 2 ** -90; // relative; far above the residual's rounding error, far below half a gap
/** Powers of ten held exactly by a double (up to 1e22). */
export const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i); // exact doubles up to 1e22

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;

/** The next double away from (up = true) or towards zero, for a positive normal finite x. */
function neighbour(x: number, up: boolean): number {
  bits[0] = x;
  if (up) {
    words[LO] = (words[LO]! + 1) >>> 0;
    if (words[LO] === 0) words[HI]!++;
  } else {
    if (words[LO] === 0) words[HI]!--;
    words[LO] = (words[LO]! - 1) >>> 0;
  }
  return bits[0]!;
}

/** Half the gap between positive normal x and its neighbour above (or below). */
function halfGap(x: number, above: boolean): number {
  bits[0] = x;
  const hi = words[HI]!;
  const exponent = (hi >>> 20) & 0x7ff;
  // ulp = 2^(exponent − 1075); below a power of two the gap is half of that.
  const narrower = !above && (hi & 0xfffff) === 0 && words[LO] === 0;
  bits[0] = 0;
  words[HI] = (exponent - 52 - (narrower ? 1 : 0) - 1) << 20;
  return bits[0]!;
}

let productLo = 0;
/** a·b rounded; the exact remainder a·b − result goes to `productLo` (Dekker, no FMA needed). */
function twoProduct(a: number, b: number): number {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  productLo = al * bl - (((p - ah * bh) - al * bh) - ah * bl);
  return p;
}

/** c·P − (mh + ml), to within ~2^-103·mh, for c within a few ulps of (mh + ml)/P. */
function residual(c: number, p: number, mh: number, ml: number): number {
  const ph = twoProduct(c, p);
  // ph is within a factor of two of mh, so mh − ph is exact (Sterbenz).
  return ph - mh + (productLo - ml);
}

/**
 * (head·10^tailDigits + tail) / 10^divisorDigits, correctly rounded, or NaN when undecided.
 * Requires head < 2^53, tailDigits ≤ 4, tail < 10^tailDigits, divisorDigits in [0, 22], and a
 * non-zero result.
 */
export function decimalToDouble(head: number, tailDigits: number, tail: number, divisorDigits: number): number {
  // M = head·10^tailDigits + tail as mh + ml exactly: the product's remainder and the sum's error
  // are integers below 2^11, so adding them is exact.
  const scaled = twoProduct(head, POW10[tailDigits]!);
  const scaledLo = productLo;
  const sum = scaled + tail;
  const sumLo = tail - (sum - scaled) + scaledLo;
  const mh = sum + sumLo;
  const ml = sumLo - (mh - sum);
  const p = POW10[divisorDigits]!;
  const margin = mh * MARGIN;

  // r < 0: c lies below the exact value, so the neighbour that could be nearer is the one above.
  let c = mh / p;
  let r = residual(c, p, mh, ml);
  if (Math.abs(r) < halfGap(c, r < 0) * p - margin) return c;
  c = neighbour(c, r < 0);
  r = residual(c, p, mh, ml);
  if (Math.abs(r) < halfGap(c, r < 0) * p - margin) return c;
  return NaN;
}
