import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { EvaluateFlags } from "./evaluate.ts";
import { PermanentError } from "../../errors.ts";
import { silentLogger } from "../../adapters/basics.ts";
import { LocalObjectStore } from "../../adapters/store/local.ts";
import { loadModel, type LoadedModel } from "../../adapters/onnx/runtime.ts";
import { parseModelCard } from "../../adapters/onnx/validate.ts";
import { perClassRows } from "../../core/evaluation/render.ts";
import type { EvaluationReport, SetResult } from "../../core/evaluation/report.ts";
import { evaluateDataset } from "../../core/evaluation/run.ts";
import { parseJsonDocument } from "../../core/evaluation/samples.ts";
import { readManifestFile } from "../../adapters/datasets/manifest-file.ts";
import type { ModelUnderTest } from "../../core/evaluation/types.ts";
import { decidePromotion, type PromotionDecision } from "../../core/promotion/policy.ts";
import { DEFAULT_PROMOTION_POLICY, PromotionPolicySchema, type PromotionPolicy } from "../../core/promotion/policy-schema.ts";
import { summariseIssues } from "../../messages/build.ts";
import type { ImageCodec } from "../../ports.ts";

/** Where the command writes; tests pass their own. */
export interface EvaluateCliIo {
  stdout(text: string): void;
  env: Record<string, string | undefined>;
  codec?: ImageCodec;
  /** onnxruntime execution providers in order of preference (default: cpu), e.g. ["cuda", "cpu"]. */
  executionProviders?: readonly string[];
}

/** The work of `mlops evaluate` (declared in evaluate.ts). */
export async function runEvaluateCommand(flags: EvaluateFlags, io: EvaluateCliIo): Promise<{ report: EvaluationReport; decision: PromotionDecision }> {
  const policy = policyFrom(io.env);
  const store = new LocalObjectStore(join(io.env.MLOPS_WORKSPACE || ".mlops", "buckets"));
  const codec = io.codec ?? (await import("../../adapters/imaging/codec.ts")).sharpCodec;
  const manifestPath = resolve(flags.dataset);
  const { manifest, versionId } = await readManifestFile(manifestPath, store);

  const loaded: LoadedModel[] = [];
  try {
    const candidate = await modelFromDir(flags.model, "candidate", loaded, io.executionProviders);
    const champion = flags.champion ? await modelFromDir(flags.champion, "champion", loaded, io.executionProviders) : null;
    const report = await evaluateDataset(
      {
        evaluationId: `cli-${new Date().toISOString().replace(/[-:.]/g, "")}`,
        createdAt: new Date(),
        dataset: { manifest, uri: manifestPath, versionId },
        candidate,
        champion,
        options: { now: () => performance.now() },
      },
      { store, codec, log: silentLogger },
    );
    const decision = decidePromotion({ report, policy });
    io.stdout(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderTextSummary(report, decision));
    return { report, decision };
  } finally {
    for (const m of loaded) await m.release().catch(() => undefined);
  }
}

function policyFrom(env: Record<string, string | undefined>): PromotionPolicy {
  const raw = env.PROMOTION_POLICY;
  if (!raw) return DEFAULT_PROMOTION_POLICY;
  const parsed = PromotionPolicySchema.safeParse(parseJsonDocument(new TextEncoder().encode(raw), "PROMOTION_POLICY"));
  if (!parsed.success) throw new PermanentError("invalid_policy", `PROMOTION_POLICY is invalid: ${summariseIssues(parsed.error.issues)}`);
  return parsed.data;
}

async function readLocal(path: string, what: string): Promise<Uint8Array> {
  if (!existsSync(path)) throw new PermanentError("not_found", `${what} not found: ${path}`);
  return readFile(path);
}

async function modelFromDir(dir: string, role: "candidate" | "champion", loaded: LoadedModel[], executionProviders?: readonly string[]): Promise<ModelUnderTest> {
  const folder = resolve(dir);
  const cardPath = join(folder, "model.json");
  const card = parseModelCard(parseJsonDocument(await readLocal(cardPath, `${role} model card`), cardPath));
  const modelPath = join(folder, "model.onnx");
  if (!existsSync(modelPath)) throw new PermanentError("model_not_found", `${role} model has no model.onnx in ${folder}`);
  const runner = await loadModel({ card, modelPath, ...(executionProviders ? { executionProviders } : {}) });
  loaded.push(runner);
  const metricsPath = join(folder, "metrics.json");
  let selfReported: Record<string, unknown> | null = null;
  if (existsSync(metricsPath)) {
    const raw = parseJsonDocument(await readFile(metricsPath), metricsPath);
    if (raw && typeof raw === "object" && !Array.isArray(raw)) selfReported = raw as Record<string, unknown>;
  }
  return { role, modelId: folder, uri: folder, runner, selfReported };
}

/** Plain-text summary for a terminal: overall metrics, per-class table, the policy's verdict. */
export function renderTextSummary(report: EvaluationReport, decision: PromotionDecision): string {
  const set = report.evaluation;
  const lines: string[] = [];
  lines.push(`${report.task} evaluation on ${set.itemCount} eval items (dataset ${set.line} ${set.versionId.slice(0, 12)})`, "");
  lines.push(...table(overallRows(set)), "");
  const perClass = perClassRows(set).map((r) => [r.className, String(r.support), num(r.candidate), ...(set.champion ? [num(r.champion), delta(r.candidate, r.champion)] : [])]);
  lines.push(`per-class ${set.candidate.perClassMetric}:`);
  lines.push(...table([["class", "support", "candidate", ...(set.champion ? ["champion", "Δ"] : [])], ...perClass]), "");
  if (set.skippedItems.length) lines.push(`${set.skippedItems.length} item(s) skipped, e.g. ${set.skippedItems[0]!.itemId}: ${set.skippedItems[0]!.reason}`, "");
  for (const d of report.discrepancies) lines.push(`note: ${d}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  lines.push(`policy: ${decision.outcome}${decision.outcome === "promote" ? ` (prod: ${decision.prodOutcome})` : ""}`);
  for (const r of decision.reasons) lines.push(`  - ${r}`);
  return `${lines.join("\n")}\n`;
}

function overallRows(set: SetResult): string[][] {
  const { candidate, champion } = set;
  const names = [...new Set([candidate.primaryMetric.name, ...Object.keys(candidate.metrics)])];
  const header = ["metric", `candidate (${candidate.name})`, ...(champion ? [`champion (${champion.name})`, "Δ"] : [])];
  return [
    header,
    ...names.map((n) => {
      const c = candidate.metrics[n] ?? null;
      const h = champion ? (champion.metrics[n] ?? null) : null;
      return [n === candidate.primaryMetric.name ? `${n} *` : n, num(c), ...(champion ? [num(h), delta(c, h)] : [])];
    }),
    ["Mpixel/s", mpx(candidate.timings.pixelsPerSecond), ...(champion ? [mpx(champion.timings.pixelsPerSecond), ""] : [])],
  ];
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ").trimEnd());
}

function num(v: number | null): string {
  return v === null ? "—" : v.toFixed(4);
}

function delta(c: number | null, h: number | null): string {
  if (c === null || h === null) return "—";
  return `${c - h < 0 ? "−" : "+"}${Math.abs(c - h).toFixed(4)}`;
}

function mpx(v: number | null): string {
  return v === null ? "—" : (v / 1e6).toFixed(2);
}
