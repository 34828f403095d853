import type { RunDetail } from "../../db/queries/pages.ts";

/**
 * `mlops runs compare A B`: two runs side by side, what people open MLflow for. Rows come from
 * the run (dataset, state, model), its parameters, what its trainer reported, and the evaluation
 * of its model (the report's candidate metrics and per-class values). Nested values are flattened
 * to dotted keys; lists of numbers (per-epoch curves) show their last value and length.
 */
export interface RunComparison {
  a: string;
  b: string;
  rows: { section: "run" | "params" | "trainer" | "evaluation"; key: string; a: string | number | null; b: string | number | null; differs: boolean }[];
}

export type Cell = string | number | null;

/** Nested values as dotted keys (the run page's tables use it too). A per-epoch `history` is drawn, not tabled: it shows as its length. */
export function flatten(value: unknown, prefix: string, out: Map<string, Cell>): void {
  if (prefix === "history" && Array.isArray(value)) {
    out.set(prefix, `${value.length} epochs (curves on the run pages)`);
    return;
  }
  if (value === null || value === undefined) {
    if (prefix) out.set(prefix, null);
    return;
  }
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === "number")) {
      out.set(prefix, value.length ? `${round(value[value.length - 1] as number)} (last of ${value.length})` : "[]");
      return;
    }
    out.set(prefix, JSON.stringify(value).slice(0, 80));
    return;
  }
  if (typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.set(prefix, typeof value === "number" ? round(value) : String(value));
}

function round(v: number): number {
  return Number.isInteger(v) ? v : Number(v.toPrecision(6));
}

function runFacts(run: RunDetail): Map<string, Cell> {
  return new Map<string, Cell>([
    ["state", run.state],
    ["dataset", run.datasetSeq !== null ? `v${run.datasetSeq} ${run.datasetVersionId.slice(0, 12)}` : run.datasetVersionId.slice(0, 12)],
    ["attempt", run.attempt],
    ["model", run.model?.id ?? null],
    ["created", run.createdAt],
    ["finished", run.finishedAt],
    ["error", run.error],
  ]);
}

async function evaluationFacts(run: RunDetail, readJson: (uri: string) => Promise<unknown>): Promise<Map<string, Cell>> {
  const out = new Map<string, Cell>();
  const evaluation = run.evaluation;
  if (!evaluation) return out;
  out.set("id", evaluation.id);
  out.set("state", evaluation.state);
  if (evaluation.reportUri) {
    try {
      const report = (await readJson(evaluation.reportUri)) as { evaluation?: { itemCount?: number; candidate?: { metrics?: unknown; perClass?: { className: string; value: number | null }[] } } };
      const candidate = report.evaluation?.candidate;
      if (report.evaluation?.itemCount !== undefined) out.set("items", report.evaluation.itemCount);
      flatten(candidate?.metrics ?? {}, "", out);
      for (const c of candidate?.perClass ?? []) out.set(`class.${c.className}`, c.value === null ? null : round(c.value));
      return out;
    } catch {
      out.set("report", "unreadable");
    }
  }
  flatten(evaluation.metrics ?? {}, "", out);
  return out;
}

export async function compareRuns(a: RunDetail, b: RunDetail, readJson: (uri: string) => Promise<unknown>): Promise<RunComparison> {
  const rows: RunComparison["rows"] = [];
  const add = (section: RunComparison["rows"][number]["section"], left: Map<string, Cell>, right: Map<string, Cell>) => {
    const keys = [...new Set([...left.keys(), ...right.keys()])];
    if (section !== "run") keys.sort();
    for (const key of keys) {
      const va = left.get(key) ?? null;
      const vb = right.get(key) ?? null;
      rows.push({ section, key, a: va, b: vb, differs: va !== vb });
    }
  };
  add("run", runFacts(a), runFacts(b));
  const params = (r: RunDetail) => {
    const m = new Map<string, Cell>();
    flatten(r.params, "", m);
    return m;
  };
  add("params", params(a), params(b));
  const trainer = (r: RunDetail) => {
    const m = new Map<string, Cell>();
    flatten(r.selfReported ?? {}, "", m);
    return m;
  };
  add("trainer", trainer(a), trainer(b));
  const [ea, eb] = await Promise.all([evaluationFacts(a, readJson), evaluationFacts(b, readJson)]);
  add("evaluation", ea, eb);
  return { a: a.id, b: b.id, rows };
}

/** Aligned columns, a section heading per group, `*` marking values that differ. */
export function formatRunComparison(c: RunComparison): string {
  // Long texts (a trainer's note) are clipped here; --json keeps them whole.
  const show = (v: Cell) => {
    const text = v === null ? "—" : String(v);
    return text.length > 40 ? `${text.slice(0, 39)}…` : text;
  };
  const keyWidth = Math.max(10, ...c.rows.map((r) => r.key.length));
  const aWidth = Math.max(c.a.length, ...c.rows.map((r) => show(r.a).length));
  const lines = [`  ${"".padEnd(keyWidth)}  ${c.a.padEnd(aWidth)}  ${c.b}`];
  let section = "";
  for (const row of c.rows) {
    if (row.section !== section) {
      section = row.section;
      lines.push(`${section}`);
    }
    lines.push(`${row.differs ? "*" : " "} ${row.key.padEnd(keyWidth)}  ${show(row.a).padEnd(aWidth)}  ${show(row.b)}`);
  }
  return `${lines.join("\n")}\n`;
}
