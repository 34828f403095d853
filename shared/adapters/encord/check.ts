import type { Config } from "../../config/load.ts";
import { describeError, PermanentError, TransientError } from "../../errors.ts";
import type { EncordApi } from "./api.ts";
import { createEncordClient, encordSettings, findIntegration, type EncordClientDeps, type EncordSettings } from "./context.ts";
import { EncordAuthError, detailText } from "./errors.ts";
import { openSshPublicLine, type EncordKey } from "./keys.ts";

/**
 * `mlops backend check` for Encord: three calls that prove the key, the integration, the project
 * and both API generations work, each reported as a step so a failure names what broke.
 *   1. v2 cloud integrations: the configured integration exists (and the key is accepted);
 *   2. v2 project: readable, with a workflow holding the configured Complete stage;
 *   3. v1 labelrowmetadata on the project: the legacy API accepts the key too.
 */

export interface CheckStep {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CheckReport {
  ok: boolean;
  steps: CheckStep[];
  /** The key's public line (to register in Encord), when the key could be read. */
  publicKey?: string;
}

export const CHECK_STEP_NAMES = ["cloud integrations", "project and workflow", "legacy API (label rows)"] as const;

export async function checkEncord(config: Config, deps: EncordClientDeps): Promise<CheckReport> {
  const steps: CheckStep[] = [];
  let settings: EncordSettings | null = null;
  let api: EncordApi | null = null;
  let key: (() => Promise<EncordKey>) | null = null;
  try {
    settings = encordSettings(config);
    ({ api, key } = createEncordClient(config, { ...deps, transport: { maxRetries: 1, ...deps.transport } }));
  } catch (err) {
    steps.push({ name: CHECK_STEP_NAMES[0], ok: false, detail: explain(err) });
  }

  const runs: ((a: EncordApi, s: EncordSettings) => Promise<string>)[] = [checkIntegration, checkProject, checkLegacy];
  for (const [index, run] of runs.entries()) {
    if (steps.length > index) continue; // configuration failed: reported as step 1
    if (steps.some((s) => !s.ok) || !api || !settings) {
      steps.push({ name: CHECK_STEP_NAMES[index]!, ok: false, detail: "skipped: an earlier step failed" });
      continue;
    }
    try {
      steps.push({ name: CHECK_STEP_NAMES[index]!, ok: true, detail: await run(api, settings) });
    } catch (err) {
      steps.push({ name: CHECK_STEP_NAMES[index]!, ok: false, detail: explain(err) });
    }
  }
  const report: CheckReport = { ok: steps.every((s) => s.ok), steps };
  if (key) {
    try {
      report.publicKey = openSshPublicLine((await key()).publicKeyHex, "mlops-loop");
    } catch {
      // The key itself failed: the step's detail already says why.
    }
  }
  return report;
}

async function checkIntegration(api: EncordApi, settings: EncordSettings): Promise<string> {
  const integration = await findIntegration(api, settings.integration);
  return `integration "${integration.title}" (${integration.uuid})`;
}

async function checkProject(api: EncordApi, settings: EncordSettings): Promise<string> {
  const project = await api.getProject(settings.projectHash);
  const stages = project.workflow?.stages ?? [];
  if (stages.length === 0) throw new PermanentError("encord_no_workflow", `project "${project.title}" has no workflow (a manual QA project?): the loop polls a workflow's Complete stage`);
  const names = stages.map((s) => s.title).join(" → ");
  if (!stages.some((s) => s.title === settings.completeStage)) {
    throw new PermanentError("encord_no_complete_stage", `project "${project.title}" has no stage titled "${settings.completeStage}" (stages: ${names}); set ENCORD_COMPLETE_STAGE`);
  }
  return `project "${project.title}"; stages: ${names}; complete stage "${settings.completeStage}" found`;
}

async function checkLegacy(api: EncordApi, settings: EncordSettings): Promise<string> {
  const rows = await api.listLabelRowMetadata(settings.projectHash, { includeUninitialised: true });
  const complete = rows.filter((r) => r.workflow_graph_node?.title === settings.completeStage).length;
  return `${rows.length} label row(s), ${complete} in "${settings.completeStage}"`;
}

function explain(err: unknown): string {
  if (err instanceof EncordAuthError) {
    const what = err.httpStatus === 403 || err.encordCode === "AUTHORISATION_ERROR" ? "not authorised — does the key's user have access?" : "authentication failed — is the key registered in Encord?";
    const reason = detailText(err.payload);
    return reason ? `${what} (Encord said: ${reason})` : what;
  }
  if (err instanceof TransientError) return `Encord unreachable or failing: ${err.message}`;
  return describeError(err);
}

/** Human-readable lines; the failing step is named as `step i/n (name): detail`. */
export function formatCheckReport(report: CheckReport, domain: string): { out: string[]; err: string[] } {
  const out = [`Encord backend check against ${domain}`];
  const total = report.steps.length;
  report.steps.forEach((step, i) => out.push(`  ${step.ok ? "ok  " : "FAIL"} ${i + 1}/${total} ${step.name}: ${step.detail}`));
  if (report.publicKey) out.push(`  public key: ${report.publicKey}`);
  const failed = report.steps.findIndex((s) => !s.ok);
  const err = failed === -1 ? [] : [`step ${failed + 1}/${total} (${report.steps[failed]!.name}): ${report.steps[failed]!.detail}`];
  return { out, err };
}
