/**
 * Stable, allocation-free sort of index arrays by a score, highest first. This is what
 * `np.argsort(-scores, kind="mergesort")` does in COCOeval: equal scores keep their incoming order,
 * which decides who gets a ground truth first and therefore the metric itself.
 */

const INSERTION_RUN = 16;

/**
 * Sorts `items[start, start + n)` (indices into `score`) by `score` descending, ties keeping their
 * current relative order. `scratch` must hold at least `n` entries.
 */
export function sortIndicesByScoreDesc(
  items: Int32Array,
  start: number,
  n: number,
  score: ArrayLike<number>,
  scratch: Int32Array,
): void {
  if (n < 2) return;
  // Insertion-sort short runs: shifting only past strictly lower scores keeps ties in place.
  for (let runStart = start; runStart < start + n; runStart += INSERTION_RUN) {
    const runEnd = Math.min(runStart + INSERTION_RUN, start + n);
    for (let i = runStart + 1; i < runEnd; i++) {
      const item = items[i]!;
      const s = score[item]!;
      let j = i - 1;
      while (j >= runStart && score[items[j]!]! < s) {
        items[j + 1] = items[j]!;
        j--;
      }
      items[j + 1] = item;
    }
  }
  // Bottom-up merges, ping-ponging between `items` and `scratch`.
  let src = items;
  let dst = scratch;
  let srcOffset = start;
  let dstOffset = 0;
  for (let width = INSERTION_RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let left = lo;
      let right = mid;
      let out = lo;
      while (left < mid && right < hi) {
        // `>=` takes the left element on ties: that is the stability guarantee.
        if (score[src[srcOffset + left]!]! >= score[src[srcOffset + right]!]!) {
          dst[dstOffset + out++] = src[srcOffset + left++]!;
        } else {
          dst[dstOffset + out++] = src[srcOffset + right++]!;
        }
      }
      while (left < mid) dst[dstOffset + out++] = src[srcOffset + left++]!;
      while (right < hi) dst[dstOffset + out++] = src[srcOffset + right++]!;
    }
    const swapArray = src;
    src = dst;
    dst = swapArray;
    const swapOffset = srcOffset;
    srcOffset = dstOffset;
    dstOffset = swapOffset;
  }
  if (src !== items) items.set(src.subarray(srcOffset, srcOffset + n), start);
}
