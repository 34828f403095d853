/**
 * Pre-label acceptance: the share of a pre-label's pixels the annotator kept. Compared over the
 * pixels the accepted label says something about (not `ignoreValue`, i.e. not nodata); a pixel is
 * kept when the label gives it the class the pre-label gave it. Both masks hold ontology class ids
 * (the model's classes are its dataset's, which are the ontology's).
 */
export function prelabelAgreement(label: Uint8Array, prelabel: Uint8Array, ignoreValue: number): { keptPixels: number; comparedPixels: number } | null {
  if (label.length !== prelabel.length) return null;
  let kept = 0;
  let compared = 0;
  for (let i = 0; i < label.length; i++) {
    const v = label[i]!;
    if (v === ignoreValue) continue;
    compared++;
    if (prelabel[i] === v) kept++;
  }
  return { keptPixels: kept, comparedPixels: compared };
}
