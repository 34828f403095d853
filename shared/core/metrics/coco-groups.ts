import type { PreparedBoxes } from "./coco-prepare.ts";

/**
 * The non-empty (category, image) pairs COCOeval visits — or images alone when categories are
 * pooled — in its loop order (category, then image id), with each pair's GT and detections in the
 * order of COCOeval's `_gts`/`_dts` lists: input order, and with pooled categories category first
 * (`[_ for cId in p.catIds for _ in self._gts[imgId, cId]]`). Memory and time are linear in the
 * number of boxes plus images and categories, never their product.
 */
export interface BoxGroups {
  count: number;
  /** Category index of each group (0 for every group when categories are pooled). */
  category: Int32Array;
  /** GT of group g: gtOrder[gtStart[g] … gtStart[g + 1]); detections likewise. */
  gtStart: Int32Array;
  dtStart: Int32Array;
  gtOrder: Int32Array;
  dtOrder: Int32Array;
}

/** Stable counting sort of `order` by `key[item]` (keys in [0, bucketCount)). */
function bucketStable(order: Int32Array, key: Int32Array, bucketCount: number): Int32Array {
  const cursor = new Int32Array(bucketCount + 1);
  for (const item of order) cursor[key[item]! + 1]!++;
  for (let b = 0; b < bucketCount; b++) cursor[b + 1]! += cursor[b]!;
  const sorted = new Int32Array(order.length);
  for (const item of order) sorted[cursor[key[item]!]!++] = item;
  return sorted;
}

/** LSD radix: the last pass decides the major key, earlier passes (and input order) break ties. */
function orderBoxes(boxes: PreparedBoxes, catCount: number, imgCount: number, useCats: boolean): Int32Array {
  const input = new Int32Array(boxes.count);
  for (let i = 0; i < boxes.count; i++) input[i] = i;
  const cats = Math.max(catCount, 1);
  const imgs = Math.max(imgCount, 1);
  return useCats
    ? bucketStable(bucketStable(input, boxes.img, imgs), boxes.cat, cats)
    : bucketStable(bucketStable(input, boxes.cat, cats), boxes.img, imgs);
}

export function groupBoxes(gt: PreparedBoxes, dt: PreparedBoxes, catCount: number, imgCount: number, useCats: boolean): BoxGroups {
  const gtOrder = orderBoxes(gt, catCount, imgCount, useCats);
  const dtOrder = orderBoxes(dt, catCount, imgCount, useCats);
  const keyOf = (boxes: PreparedBoxes, item: number) => (useCats ? boxes.cat[item]! * imgCount : 0) + boxes.img[item]!;

  const capacity = gt.count + dt.count;
  const category = new Int32Array(capacity);
  const gtStart = new Int32Array(capacity + 1);
  const dtStart = new Int32Array(capacity + 1);
  let count = 0;
  let g = 0;
  let d = 0;
  // Merge the two ordered lists group by group.
  while (g < gt.count || d < dt.count) {
    const gtKey = g < gt.count ? keyOf(gt, gtOrder[g]!) : Infinity;
    const dtKey = d < dt.count ? keyOf(dt, dtOrder[d]!) : Infinity;
    const key = Math.min(gtKey, dtKey);
    category[count] = useCats ? Math.floor(key / imgCount) : 0;
    gtStart[count] = g;
    dtStart[count] = d;
    while (g < gt.count && keyOf(gt, gtOrder[g]!) === key) g++;
    while (d < dt.count && keyOf(dt, dtOrder[d]!) === key) d++;
    count++;
  }
  gtStart[count] = g;
  dtStart[count] = d;
  return { count, category, gtStart, dtStart, gtOrder, dtOrder };
}
