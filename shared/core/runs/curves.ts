/**
 * Per-epoch curves from what a trainer reported. Both trainers write `history` in metrics.json, one
 * record per epoch (`{ epoch, loss, mIoU, pixelAccuracy, … }`; the PyTorch trainer adds `valLoss`),
 * and the training job stores metrics.json on the run (`self_reported`). A team trainer may write
 * anything, so this reads defensively: records without a positive integer `epoch`, and values that
 * are not finite numbers, are left out rather than failing the page.
 */
export interface CurvePoint {
  epoch: number;
  value: number;
}

export interface Curve {
  /** The history key (`loss`, `valLoss`, `mIoU`, `pixelAccuracy`). */
  metric: string;
  points: CurvePoint[];
}

/** The keys drawn, in this order: losses share one chart, scores in [0, 1] another. */
export const LOSS_METRICS = ["loss", "valLoss"] as const;
export const SCORE_METRICS = ["mIoU", "pixelAccuracy"] as const;

export function epochCurves(selfReported: Record<string, unknown> | null | undefined): Curve[] {
  const history = selfReported?.history;
  if (!Array.isArray(history)) return [];
  const records = history.filter(
    (r): r is Record<string, unknown> & { epoch: number } =>
      typeof r === "object" && r !== null && Number.isInteger((r as { epoch?: unknown }).epoch) && ((r as { epoch: number }).epoch > 0),
  );
  const curves: Curve[] = [];
  for (const metric of [...LOSS_METRICS, ...SCORE_METRICS]) {
    const byEpoch = new Map<number, number>();
    for (const r of records) {
      const value = r[metric];
      // A resumed run may repeat an epoch: the later record wins.
      if (typeof value === "number" && Number.isFinite(value)) byEpoch.set(r.epoch, value);
    }
    if (byEpoch.size > 0) curves.push({ metric, points: [...byEpoch].sort((a, b) => a[0] - b[0]).map(([epoch, value]) => ({ epoch, value })) });
  }
  return curves;
}
