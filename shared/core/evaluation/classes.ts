/**
 * Models and datasets name their classes; indexes differ when a candidate adds classes the
 * champion does not know. The evaluator therefore scores every model in the dataset's class space
 * (ground truth is in dataset ids) and maps each model output index to a dataset id **by name**.
 * A model class the dataset does not know maps to -1: its predictions count as wrong.
 */
export function classMapByName(modelClasses: readonly string[], datasetClasses: readonly string[]): Int32Array {
  const index = new Map(datasetClasses.map((name, i) => [name, i] as const));
  return Int32Array.from(modelClasses, (name) => index.get(name) ?? -1);
}

/** Dataset ids of the model's classes that the dataset knows (the classes its means run over). */
export function knownDatasetIds(classMap: Int32Array): number[] {
  return [...new Set([...classMap].filter((id) => id >= 0))];
}

/** A K×K Float64Array as rows of plain numbers, for JSON. */
export function matrixRows(matrix: Float64Array, k: number): number[][] {
  const rows: number[][] = [];
  for (let r = 0; r < k; r++) rows.push(Array.from(matrix.subarray(r * k, (r + 1) * k)));
  return rows;
}
