import type { EvaluationReport, ModelResult } from "../evaluation/report.ts";
import type { MetricThreshold, PromotionPolicy } from "./policy-schema.ts";

/**
 * The promotion decision: pure, one function, every rule a named check with one human line.
 *
 * Threshold semantics follow MLflow's `MetricThreshold` and `mlflow.validate_evaluation_results`
 * exactly (mlflow/models/evaluation/validation.py): `threshold` uses ≥ (≤ when lower is better);
 * `min_absolute_change` needs candidate ≥ champion + Δ (≤ champion − Δ); `min_relative_change`
 * needs (candidate − champion) / champion ≥ r ((champion − candidate) / champion ≥ r), falling back
 * to "strictly better by 1e-10" when the champion's value is exactly 0; a metric missing (or
 * undefined) on either side fails its check. With no champion only the absolute threshold is checked
 * (MLflow's `baseline_result=None`).
 *
 * What MLflow's validation does not have:
 * - `min_eval_items`: too small an evaluation proves nothing;
 * - `added_classes_tolerated_drop`: when the candidate knows classes the champion does not, the
 *   improvement requirement against the champion's primary metric is replaced by "drops by at most
 *   this much", because learning new classes usually costs a little on the old ones;
 * - `per_class.max_drop`: every class both models know, with at least `min_support` evaluation
 *   instances, may lose at most this much (absolute) of its per-class metric.
 *
 * Outcomes:
 * - `refuse`: a quality check failed (threshold, improvement, per-class regression, missing metric);
 * - `review`: every quality check passed but the evaluation set is smaller than `min_eval_items`,
 *   so nothing moves automatically and a person decides (`approve` / `reject`);
 * - `promote`: `staging` moves; `prod` follows `policy.prod` (auto → promote, approve → review,
 *   never → none).
 */
export interface PolicyCheck {
  name: string;
  passed: boolean;
  message: string;
  /** The class a per-class check is about. */
  className?: string;
}

export interface PromotionDecision {
  outcome: "promote" | "refuse" | "review";
  stagingMove: boolean;
  prodOutcome: "promote" | "review" | "none";
  checks: PolicyCheck[];
  /** Human lines: the failed checks' messages, or why it passed and what happens to prod. */
  reasons: string[];
  failedClasses: string[];
}

export interface PromotionInput {
  report: Pick<EvaluationReport, "evaluation" | "newClasses">;
  policy: PromotionPolicy;
  /** Candidate classes the champion lacks; defaults to the report's `newClasses`. */
  newClasses?: readonly string[];
}

/** Float noise (0.62 − 0.52 = 0.10000000000000009) must not fail a drop limit of exactly 0.10. */
const EPSILON = 1e-12;

export function decidePromotion(input: PromotionInput): PromotionDecision {
  const { policy } = input;
  const { candidate, champion, itemCount } = input.report.evaluation;
  const newClasses = [...(input.newClasses ?? input.report.newClasses)];
  const primary = policy.primary_metric;
  const checks: PolicyCheck[] = [];

  const enoughItems = itemCount >= policy.min_eval_items;
  checks.push({
    name: "min_eval_items",
    passed: enoughItems,
    message: enoughItems
      ? `evaluated on ${itemCount} items (at least ${policy.min_eval_items} required)`
      : `evaluated on only ${itemCount} item${itemCount === 1 ? "" : "s"}; the policy needs at least ${policy.min_eval_items} (min_eval_items) before anything is promoted`,
  });

  checks.push(...primaryMetricChecks(primary, candidate, champion, newClasses, policy.added_classes_tolerated_drop));
  if (champion) checks.push(...perClassChecks(candidate, champion, policy.per_class));

  const qualityFailed = checks.some((c) => !c.passed && c.name !== "min_eval_items");
  const outcome: PromotionDecision["outcome"] = qualityFailed ? "refuse" : enoughItems ? "promote" : "review";
  const prodOutcome: PromotionDecision["prodOutcome"] =
    outcome !== "promote" ? "none" : policy.prod === "auto" ? "promote" : policy.prod === "approve" ? "review" : "none";

  const failed = checks.filter((c) => !c.passed);
  const reasons = failed.length > 0 ? failed.map((c) => c.message) : checks.map((c) => c.message);
  if (outcome === "review") reasons.push("every quality check passed; a person must approve or reject this candidate");
  if (outcome === "promote") {
    reasons.push(
      prodOutcome === "promote"
        ? "prod follows staging automatically (policy prod = auto)"
        : prodOutcome === "review"
          ? "prod needs an approve (policy prod = approve)"
          : "the policy never moves prod (policy prod = never)",
    );
  }
  const failedClasses = [...new Set(failed.flatMap((c) => (c.className ? [c.className] : [])))];
  return { outcome, stagingMove: outcome === "promote", prodOutcome, checks, reasons, failedClasses };
}

function primaryMetricChecks(
  t: MetricThreshold,
  candidate: ModelResult,
  champion: ModelResult | null,
  newClasses: readonly string[],
  toleratedDrop: number,
): PolicyCheck[] {
  const name = t.name;
  const cand = metricOf(candidate, name);
  const better = t.greater_is_better;
  const checks: PolicyCheck[] = [];
  if (cand === null) {
    return [{ name: "primary_metric", passed: false, message: `metric \`${name}\` is missing from the candidate's evaluation, so the policy cannot judge it` }];
  }
  if (t.threshold !== null) {
    const { n: fmt } = numbers(cand, t.threshold);
    const passed = better ? cand >= t.threshold : cand <= t.threshold;
    checks.push({
      name: "threshold",
      passed,
      message: passed
        ? `${name} ${fmt(cand)} ${better ? "≥" : "≤"} threshold ${fmt(t.threshold)}`
        : `${name} ${fmt(cand)} is ${better ? "below" : "above"} the threshold ${fmt(t.threshold)}`,
    });
  }
  const wantsChange = t.min_absolute_change !== null || t.min_relative_change !== null;
  if (!champion || !wantsChange) return checks;

  const champ = metricOf(champion, name);
  if (champ === null) {
    return [...checks, { name: "vs_champion", passed: false, message: `metric \`${name}\` is missing from the champion's evaluation, so the candidate cannot be compared with it` }];
  }

  if (newClasses.length > 0) {
    const { n: fmt, s: signed } = numbers(cand, champ, toleratedDrop, cand - champ);
    // Replaces the improvement requirement: learning new classes may cost a little on the old ones.
    const bar = better ? champ - toleratedDrop : champ + toleratedDrop;
    const passed = better ? cand >= bar - EPSILON : cand <= bar + EPSILON;
    const added = newClasses.map((c) => `\`${c}\``).join(", ");
    checks.push({
      name: "added_classes_tolerated_drop",
      passed,
      message: passed
        ? `${name} ${fmt(cand)} vs champion ${fmt(champ)}: the candidate adds ${added}, so a ${better ? "drop" : "rise"} of up to ${fmt(toleratedDrop)} is tolerated instead of requiring an improvement`
        : `${name} ${better ? "dropped" : "rose"} ${fmt(champ)} → ${fmt(cand)} (${signed(cand - champ)}); the candidate adds ${added}, which tolerates at most ${fmt(toleratedDrop)}`,
    });
    return checks;
  }

  if (t.min_absolute_change !== null) {
    const delta = t.min_absolute_change;
    const { n: fmt, s: signed } = numbers(cand, champ, delta, cand - champ);
    const passed = better ? cand >= champ + delta : cand <= champ - delta;
    checks.push({
      name: "min_absolute_change",
      passed,
      message: passed
        ? `${name} ${fmt(champ)} → ${fmt(cand)} (${signed(cand - champ)}) meets the required change of ${better ? "+" : "−"}${fmt(delta)}`
        : `${name} ${fmt(champ)} → ${fmt(cand)} (${signed(cand - champ)}) is less than the required ${better ? "improvement of +" : "reduction of −"}${fmt(delta)} over the champion`,
    });
  }
  if (t.min_relative_change !== null) {
    const r = t.min_relative_change;
    const { n: fmt } = numbers(cand, champ);
    let passed: boolean;
    let detail: string;
    if (champ === 0) {
      // MLflow's fallback: a relative change of 0 is meaningless, require strictly better.
      passed = better ? cand >= champ + 1e-10 : cand <= champ - 1e-10;
      detail = `the champion's ${name} is 0, so the candidate must simply be ${better ? "higher" : "lower"}`;
    } else {
      const change = better ? (cand - champ) / champ : (champ - cand) / champ;
      passed = !(change < r);
      detail = `relative change ${pct(change)} vs required ${pct(r)}`;
    }
    checks.push({
      name: "min_relative_change",
      passed,
      message: passed
        ? `${name} ${fmt(champ)} → ${fmt(cand)}: ${detail}`
        : `${name} ${fmt(champ)} → ${fmt(cand)} fails the relative change check: ${detail}`,
    });
  }
  return checks;
}

function perClassChecks(candidate: ModelResult, champion: ModelResult, rule: PromotionPolicy["per_class"]): PolicyCheck[] {
  if (rule.max_drop === null) return [];
  const maxDrop = rule.max_drop;
  const metric = candidate.perClassMetric;
  const championByName = new Map(champion.perClass.map((c) => [c.className, c] as const));
  const checks: PolicyCheck[] = [];
  for (const cand of candidate.perClass) {
    const champ = championByName.get(cand.className);
    if (!champ) continue;
    // Both models saw the same samples, so support is the same; take the larger to be safe.
    const support = Math.max(cand.support, champ.support);
    if (support < rule.min_support) continue;
    const name = `per_class:${cand.className}`;
    if (cand.value === null || champ.value === null) {
      const side = cand.value === null ? "candidate" : "champion";
      checks.push({ name, className: cand.className, passed: false, message: `per-class ${metric} of \`${cand.className}\` is missing for the ${side} (support ${support})` });
      continue;
    }
    const drop = champ.value - cand.value;
    const { n: fmt, s: signed } = numbers(champ.value, cand.value, drop, maxDrop);
    const passed = drop <= maxDrop + EPSILON;
    checks.push({
      name,
      className: cand.className,
      passed,
      message: passed
        ? `per-class ${metric} of \`${cand.className}\` ${fmt(champ.value)} → ${fmt(cand.value)} (${signed(cand.value - champ.value)}), within the allowed drop of ${fmt(maxDrop)}`
        : `per-class ${metric} of \`${cand.className}\` dropped ${fmt(champ.value)} → ${fmt(cand.value)} (${signed(-drop)}), more than the allowed ${fmt(maxDrop)}`,
    });
  }
  return checks;
}

function metricOf(model: ModelResult, name: string): number | null {
  const value = model.metrics[name];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * Number formatting shared by the numbers of one message: two decimals, or three when two would
 * hide a value (0.625 stays "0.625", and then its neighbours get three decimals too).
 */
function numbers(...values: number[]): { n: (v: number) => string; s: (v: number) => string } {
  const digits = values.every((v) => Math.abs(Number(v.toFixed(2)) - v) < 5e-4) ? 2 : 3;
  const n = (v: number) => v.toFixed(digits);
  // A real minus sign, as in the messages people read.
  return { n, s: (v: number) => `${v < 0 ? "−" : "+"}${n(Math.abs(v))}` };
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}
