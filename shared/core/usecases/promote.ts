import { PermanentError, describeError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import type { EvaluationCompleted, EvaluationFailed } from "../../messages/events.ts";
import type { Deps, NotificationAttachment, Queryable } from "../../ports.ts";
import { decisionsOf, getEvaluation, insertDecision, markEvaluationFailed, markEvaluationSucceeded } from "../../db/queries/evaluations.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { getModel, moveAlias } from "../../db/queries/models.ts";
import { EvaluationReportSchema, type EvaluationReport } from "../evaluation/report.ts";
import { decidePromotion } from "../promotion/policy.ts";
import { summariseIssues } from "../../messages/build.ts";
import { notify, transact, type Emit } from "../effects.ts";
import type { ConsumerOutcome } from "../consumers.ts";
import { failpoint } from "../failpoints.ts";

/**
 * promote: applies the promotion policy to a finished evaluation. `staging` moves when the policy
 * passes; `prod` moves too when the policy says `auto`, or waits for `approve` (`review`). Every
 * decision is stored with its checks; alias moves are append-only history keyed by the causing
 * message, so a redelivery moves nothing twice. A refusal alerts, naming the metric and class.
 */
export async function onEvaluationCompleted(message: Envelope<EvaluationCompleted>, deps: Deps): Promise<ConsumerOutcome> {
  const { evaluationId, reportUri, summaryUri } = message.data;
  const evaluation = await getEvaluation(deps.db, evaluationId);
  if (!evaluation) throw new PermanentError("unknown_evaluation", `evaluation.completed for unknown evaluation ${evaluationId}`);
  const report = await readReport(reportUri, deps);
  const policy = deps.config.policy;
  const decision = decidePromotion({ report, policy });
  const candidate = evaluation.candidate_model_id;
  const metrics = summaryMetrics(report);

  const moved = await transact(deps, message, async (tx, emit) => {
    if (!(await claimInbox(tx, "promote", message.id))) return null;
    await markEvaluationSucceeded(tx, evaluationId, { reportUri, summaryUri, metrics: { ...metrics, decision: decision.outcome } });
    const aliases: string[] = [];
    // `review`: the checks passed but the policy wants a person (e.g. too few evaluation items).
    const stagingOutcome = decision.stagingMove ? "promote" : decision.outcome === "review" ? "review" : "refuse";
    const stagingDecision = deps.ids.next("dec");
    const recorded = await insertDecision(tx, {
      id: stagingDecision, evaluationId, modelId: candidate, alias: "staging", outcome: stagingOutcome,
      reasons: decision.reasons, checks: decision.checks, policy, actor: "policy",
    });
    if (!recorded) return aliases;
    if (stagingOutcome === "review") {
      await emit("promotion.review_requested", { evaluationId, modelId: candidate, alias: "staging", reasons: decision.reasons });
    }
    if (decision.stagingMove && (await move(tx, emit, { alias: "staging", modelId: candidate, decisionId: stagingDecision, actor: "policy", reason: `evaluation ${evaluationId}: ${decision.reasons[0] ?? "policy passed"}`, causeId: message.id, evaluationId }))) {
      aliases.push("staging");
    }
    if (decision.prodOutcome === "promote") {
      const prodDecision = deps.ids.next("dec");
      await insertDecision(tx, { id: prodDecision, evaluationId, modelId: candidate, alias: "prod", outcome: "promote", reasons: decision.reasons, checks: decision.checks, policy, actor: "policy" });
      if (await move(tx, emit, { alias: "prod", modelId: candidate, decisionId: prodDecision, actor: "policy", reason: `evaluation ${evaluationId}: policy prod=auto`, causeId: message.id, evaluationId })) aliases.push("prod");
    } else if (decision.prodOutcome === "review") {
      await supersedeOpenReviews(tx, deps, "prod", evaluationId);
      await insertDecision(tx, { id: deps.ids.next("dec"), evaluationId, modelId: candidate, alias: "prod", outcome: "review", reasons: decision.reasons, checks: decision.checks, policy, actor: "policy" });
      await emit("promotion.review_requested", { evaluationId, modelId: candidate, alias: "prod", reasons: decision.reasons });
    }
    return aliases;
  });
  if (moved === null) return { status: "duplicate" };
  failpoint("promote.committed");

  const attachments = await summaryAttachment(reportUri, deps);
  const primary = `${metrics.primaryMetric} ${fmt(metrics.candidateValue)}${metrics.championValue !== null ? ` (champion ${fmt(metrics.championValue)})` : ""}`;
  if (!decision.stagingMove && decision.outcome === "review") {
    await notify(deps, {
      severity: "warning", threadKey: `eval:${evaluationId}`, title: `Review needed for staging: ${candidate}`,
      text: [`${primary}.`, ...decision.reasons, `Approve with \`mlops command approve ${evaluationId}\` or reject with \`mlops command reject ${evaluationId}\`.`].join("\n"),
      links: evaluationLinks(evaluationId, summaryUri), attachments, review: { evaluationId },
    });
  } else if (!decision.stagingMove) {
    await notify(deps, {
      severity: "alert", threadKey: `eval:${evaluationId}`, title: `Model ${candidate} refused for staging`,
      text: [`${primary}.`, ...decision.reasons, `Override with \`mlops command approve ${evaluationId}\`.`].join("\n"), links: evaluationLinks(evaluationId, summaryUri), attachments,
      review: { evaluationId },
    });
  } else {
    await notify(deps, { severity: "info", threadKey: `eval:${evaluationId}`, title: `Model ${candidate} promoted to ${moved.join(" and ")}`, text: primary, links: evaluationLinks(evaluationId, summaryUri), attachments });
    if (decision.prodOutcome === "review") {
      await notify(deps, { severity: "warning", threadKey: `eval:${evaluationId}`, title: `Review needed for prod: ${candidate}`, text: `Approve with \`mlops command approve ${evaluationId}\` or reject with \`mlops command reject ${evaluationId}\`.`,
        links: evaluationLinks(evaluationId, summaryUri), review: { evaluationId } });
    }
  }
  return { status: "done", detail: `${decision.outcome}: ${moved.join(", ") || "no alias moved"}` };
}

/**
 * The evaluation's dashboard page (a path: notifiers resolve it against DASHBOARD_URL) and its
 * rendered summary (an object: shown through the dashboard, never as a `gs://` link).
 */
function evaluationLinks(evaluationId: string, summaryUri: string): { label: string; url: string }[] {
  return [{ label: "evaluation on the dashboard", url: `/evaluations/${encodeURIComponent(evaluationId)}` }, { label: "evaluation report", url: summaryUri }];
}

export async function onEvaluationFailed(message: Envelope<EvaluationFailed>, deps: Deps): Promise<ConsumerOutcome> {
  const changed = await transact(deps, message, async (tx) => {
    if (!(await claimInbox(tx, "promote", message.id))) return false;
    return Boolean(await markEvaluationFailed(tx, message.data.evaluationId, message.data.reason));
  });
  if (!changed) return { status: "duplicate" };
  await notify(deps, { severity: "alert", threadKey: `eval:${message.data.evaluationId}`, title: `Evaluation ${message.data.evaluationId} failed`, text: message.data.reason });
  return { status: "done" };
}

/**
 * `approve <evaluation>` / `reject <evaluation>`: a person resolves what the policy left open —
 * a `review` (prod needs approval) or a `refuse` (the person overrides the policy). Approve moves
 * the alias to the candidate; both are recorded as decisions by the named actor. A staging refusal
 * is resolved before a prod review. Idempotent: a decision is resolved at most once (unique index).
 */
export async function resolveReview(
  input: { evaluationId: string; approve: boolean; actor: string; reason?: string },
  message: Envelope,
  deps: Deps,
): Promise<ConsumerOutcome> {
  const decisions = await decisionsOf(deps.db, input.evaluationId);
  const resolved = (alias: string) => decisions.some((d) => d.alias === alias && (d.outcome === "approved" || d.outcome === "rejected"));
  const open = decisions
    .filter((d) => (d.outcome === "refuse" || d.outcome === "review") && !resolved(d.alias))
    .sort((a, b) => (a.alias === "staging" ? -1 : 0) - (b.alias === "staging" ? -1 : 0));
  const pending = open[0];
  if (!pending) {
    if (decisions.some((d) => d.outcome === "approved" || d.outcome === "rejected")) return { status: "duplicate", detail: "already resolved" };
    throw new PermanentError("nothing_to_review", `evaluation ${input.evaluationId} has no refused or pending decision to ${input.approve ? "approve" : "reject"}`);
  }
  const decisionId = deps.ids.next("dec");
  const moved = await transact(deps, message, async (tx, emit) => {
    const ok = await insertDecision(tx, {
      id: decisionId, evaluationId: input.evaluationId, modelId: pending.model_id, alias: pending.alias,
      outcome: input.approve ? "approved" : "rejected",
      reasons: [input.reason ?? (input.approve ? `approved by ${input.actor}${pending.outcome === "refuse" ? " (overriding the policy)" : ""}` : `rejected by ${input.actor}`)],
      checks: [], policy: undefined, actor: input.actor,
    });
    if (!ok || !input.approve) return false;
    return move(tx, emit, { alias: pending.alias, modelId: pending.model_id, decisionId, actor: input.actor, reason: `approved evaluation ${input.evaluationId}`, causeId: message.id, evaluationId: input.evaluationId });
  });
  await notify(deps, {
    severity: "info", threadKey: `eval:${input.evaluationId}`,
    title: input.approve ? `${pending.model_id} approved for ${pending.alias}` : `${pending.model_id} rejected for ${pending.alias}`,
    text: `by ${input.actor}${input.reason ? `: ${input.reason}` : ""}`,
  });
  return { status: "done", detail: moved ? `${pending.alias} → ${pending.model_id}` : "recorded" };
}

/**
 * A newer candidate waiting for the same alias makes older open reviews moot: they are closed as
 * rejected by the policy, naming what superseded them, so reviewers see one decision to make.
 */
async function supersedeOpenReviews(tx: Queryable, deps: Deps, alias: string, byEvaluationId: string): Promise<void> {
  const { rows } = await tx.query<{ evaluation_id: string; model_id: string }>(
    `SELECT d.evaluation_id, d.model_id FROM promotion_decisions d
     WHERE d.alias = $1 AND d.outcome = 'review' AND d.evaluation_id <> $2 AND NOT EXISTS (
       SELECT 1 FROM promotion_decisions r WHERE r.evaluation_id = d.evaluation_id AND r.alias = d.alias AND r.outcome IN ('approved', 'rejected'))`,
    [alias, byEvaluationId],
  );
  for (const r of rows) {
    await insertDecision(tx, {
      id: deps.ids.next("dec"), evaluationId: r.evaluation_id, modelId: r.model_id, alias, outcome: "rejected",
      reasons: [`superseded by evaluation ${byEvaluationId}`], checks: [], policy: undefined, actor: "policy",
    });
  }
}

export async function move(
  tx: Queryable,
  emit: Emit,
  m: { alias: string; modelId: string; decisionId: string | null; actor: string; reason: string; causeId: string; evaluationId: string | null },
): Promise<boolean> {
  const model = await getModel(tx, m.modelId);
  if (!model) throw new PermanentError("unknown_model", `no model ${m.modelId}`);
  const row = await moveAlias(tx, m);
  if (!row) return false;
  await emit("model.promoted", { modelId: m.modelId, alias: m.alias, previousModelId: row.previous_model_id, evaluationId: m.evaluationId, actor: m.actor, reason: m.reason });
  return true;
}

/** The report's Markdown summary, attached to notifications (Slack uploads it into the thread). */
async function summaryAttachment(reportUri: string, deps: Deps): Promise<NotificationAttachment[]> {
  const uri = reportUri.replace(/report\.json$/, "summary.md");
  if (uri === reportUri) return [];
  try {
    return [{ name: "evaluation-summary.md", contentType: "text/markdown", content: await deps.store.get(uri) }];
  } catch {
    return []; // best effort: the link is in the message anyway
  }
}

async function readReport(uri: string, deps: Deps): Promise<EvaluationReport> {
  let raw: unknown;
  try {
    raw = JSON.parse((await deps.store.get(uri)).toString("utf8"));
  } catch (err) {
    if (err instanceof SyntaxError) throw new PermanentError("corrupt_report", `evaluation report ${uri} is not JSON: ${describeError(err)}`);
    throw err;
  }
  const parsed = EvaluationReportSchema.safeParse(raw);
  if (!parsed.success) throw new PermanentError("corrupt_report", `evaluation report ${uri} is invalid: ${summariseIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** The few numbers the dashboard shows without opening the report. */
function summaryMetrics(report: EvaluationReport): {
  primaryMetric: string; candidateValue: number | null; championValue: number | null; items: number; skippedItems: number; executionProvider: string | null;
} {
  const { candidate, champion, itemCount, skippedItems } = report.evaluation;
  return {
    primaryMetric: candidate.primaryMetric.name,
    candidateValue: candidate.primaryMetric.value,
    championValue: champion?.primaryMetric.value ?? null,
    items: itemCount,
    skippedItems: skippedItems.length,
    // Which onnxruntime provider scored the candidate (`cuda`, `cpu`): a GPU job on the CPU shows here.
    executionProvider: candidate.executionProvider ?? null,
  };
}

function fmt(v: number | null): string {
  return v === null ? "n/a" : v.toFixed(4);
}
