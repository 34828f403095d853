import type { Config } from "../../config/load.ts";
import { describeError, PermanentError, TransientError } from "../../errors.ts";
import {
  checkClassBinding, checkDataset, checkFolder, checkIntegration, checkLabelRow, checkLegacy, checkProject, type CheckState, type StepResult,
} from "./check-steps.ts";
import { createEncordClient, encordSettings, type EncordClientDeps } from "./context.ts";
import { EncordApiError, EncordAuthError, detailText } from "./errors.ts";
import { openSshPublicLine, type EncordKey } from "./keys.ts";

/**
 * `mlops backend check` for Encord: each step proves one thing the loop needs and, when it fails,
 * says what to change. Steps whose prerequisite failed are skipped; once the key itself is
 * refused, everything after is skipped (every call would be refused the same way).
 *   1. cloud integrations: the configured integration exists and the key is accepted (v2);
 *   2. project and workflow: readable, a workflow with the configured Complete stage;
 *   3. class binding: every configured class is an object of the task's shape (bitmask for
 *      segmentation) in the project's ontology; the binding and the Encord objects with no class
 *      are printed;
 *   4. dataset: attached to the project, or at least readable (registration attaches it);
 *   5. storage folder: readable, or not there yet (registration creates it);
 *   6. legacy API (label rows): `labelrowmetadata` on the project works (v1);
 *   7. label row: one labelled row is read and converted.
 */

export interface CheckStep {
  name: string;
  ok: boolean;
  detail: string;
  /** Further lines shown under the step (the class binding). */
  lines?: string[];
}

export interface CheckReport {
  ok: boolean;
  steps: CheckStep[];
  /** The key's public line (to register in Encord), when the key could be read. */
  publicKey?: string;
}

export const CHECK_STEP_NAMES = [
  "cloud integrations", "project and workflow", "class binding", "dataset", "storage folder", "legacy API (label rows)", "label row",
] as const;

type StepName = (typeof CHECK_STEP_NAMES)[number];
const STEPS: { name: StepName; needs: StepName[]; run: (state: CheckState) => Promise<StepResult> }[] = [
  { name: "cloud integrations", needs: [], run: checkIntegration },
  { name: "project and workflow", needs: [], run: checkProject },
  { name: "class binding", needs: ["project and workflow"], run: checkClassBinding },
  { name: "dataset", needs: ["project and workflow"], run: checkDataset },
  { name: "storage folder", needs: [], run: checkFolder },
  { name: "legacy API (label rows)", needs: ["project and workflow"], run: checkLegacy },
  { name: "label row", needs: ["class binding", "legacy API (label rows)"], run: checkLabelRow },
];

export async function checkEncord(config: Config, deps: EncordClientDeps): Promise<CheckReport> {
  const steps: CheckStep[] = [];
  let state: CheckState | null = null;
  let key: (() => Promise<EncordKey>) | null = null;
  try {
    const settings = encordSettings(config);
    const client = createEncordClient(config, { ...deps, transport: { maxRetries: 1, ...deps.transport } });
    key = client.key;
    state = { api: client.api, settings, task: config.annotation.task };
  } catch (err) {
    steps.push({ name: CHECK_STEP_NAMES[0], ok: false, detail: explain(err) });
  }

  let keyRefused = false;
  for (const step of STEPS) {
    if (steps.some((s) => s.name === step.name)) continue; // configuration failed: reported as step 1
    const failedNeed = step.needs.find((need) => !steps.find((s) => s.name === need)?.ok);
    if (!state || keyRefused || failedNeed) {
      const why = !state ? "the configuration is incomplete" : keyRefused ? "the key was refused" : `needs "${failedNeed}"`;
      steps.push({ name: step.name, ok: false, detail: `skipped: ${why}` });
      continue;
    }
    try {
      const { detail, lines } = await step.run(state);
      steps.push({ name: step.name, ok: true, detail, ...(lines ? { lines } : {}) });
    } catch (err) {
      if (err instanceof EncordAuthError && !err.accessRefused) keyRefused = true;
      const lines = (err as { lines?: string[] }).lines;
      steps.push({ name: step.name, ok: false, detail: explain(err), ...(lines ? { lines } : {}) });
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

function explain(err: unknown): string {
  if (err instanceof EncordAuthError) {
    const what = err.accessRefused
      ? "not authorised — give the key's Encord user access to it (project, dataset, storage folder, cloud integration)"
      : "authentication failed — is the key registered in Encord?";
    const reason = detailText(err.payload);
    return reason ? `${what} (Encord said: ${reason})` : what;
  }
  if (err instanceof TransientError) return `Encord unreachable or failing: ${err.message}`;
  // The steps' own refusals already say what to do; Encord's carry its code, which helps support.
  if (err instanceof PermanentError && !(err instanceof EncordApiError)) return err.message;
  return describeError(err);
}

/** Human-readable lines; each failing step (not the skipped ones) is named as `step i/n (name): detail`. */
export function formatCheckReport(report: CheckReport, domain: string): { out: string[]; err: string[] } {
  const out = [`Encord backend check against ${domain}`];
  const total = report.steps.length;
  report.steps.forEach((step, i) => {
    out.push(`  ${step.ok ? "ok  " : "FAIL"} ${i + 1}/${total} ${step.name}: ${step.detail}`);
    for (const line of step.lines ?? []) out.push(`         ${line}`);
  });
  if (report.publicKey) out.push(`  public key: ${report.publicKey}`);
  const err = report.steps.flatMap((step, i) => (step.ok || step.detail.startsWith("skipped:") ? [] : [`step ${i + 1}/${total} (${step.name}): ${step.detail}`]));
  return { out, err };
}
