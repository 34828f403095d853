import type { Config } from "../../config/load.ts";
import { silentLogger } from "../basics.ts";
import { describeError, PermanentError, TransientError } from "../../errors.ts";
import { bindLabelStudioConfig, labelingConfigFor } from "../../core/annotation/labelstudio-config.ts";
import { fromLabelStudioResult } from "../../core/annotation/labelstudio-result.ts";
import { ontologyFromNames } from "../../core/annotation/ontology.ts";
import type { CheckReport, CheckStep } from "../encord/check.ts";
import type { LabelStudioApi, LsProject } from "./api.ts";
import { createLabelStudioClient, describeUnbound, labelStudioSettings, resolveProject, type LabelStudioClientDeps, type LabelStudioSettings } from "./context.ts";
import { LabelStudioAuthError } from "./http.ts";
import { refsOf } from "./poll.ts";

/**
 * `mlops backend check` for Label Studio: each step proves one thing the loop needs and, when it
 * fails, says what to change. Steps whose prerequisite failed are skipped.
 *   1. auth: the API key is accepted;
 *   2. project: LABEL_STUDIO_PROJECT is readable (a title not there yet is fine: the first
 *      registration creates it);
 *   3. labeling config: a BrushLabels control on an Image with a Label for every ONTOLOGY class;
 *   4. image access: gs:// URIs need a GCS source storage of the annotation bucket in the project;
 *      URLs under LABEL_STUDIO_IMAGE_URL_PREFIX must answer (one task's image is fetched);
 *   5. annotation: one finished annotation is read and converted.
 */

export const LS_CHECK_STEPS = ["auth", "project", "labeling config", "image access", "annotation"] as const;
type StepName = (typeof LS_CHECK_STEPS)[number];

interface State {
  api: LabelStudioApi;
  settings: LabelStudioSettings;
  annotationBucket: string;
  fetch: typeof globalThis.fetch;
  project?: LsProject | null;
  control?: string | null;
}

type Step = { name: StepName; needs: StepName[]; run: (s: State) => Promise<{ detail: string; lines?: string[] }> };

const STEPS: Step[] = [
  {
    name: "auth",
    needs: [],
    run: async ({ api, settings }) => {
      await api.findProjects(settings.project);
      return { detail: `the API key is accepted by ${settings.url}` };
    },
  },
  {
    name: "project",
    needs: ["auth"],
    run: async (s) => {
      try {
        s.project = await resolveProject(s.api, s.settings, silentLogger, false);
      } catch (err) {
        if (err instanceof PermanentError && err.code === "labelstudio_project_missing") {
          s.project = null;
          return { detail: `no project titled "${s.settings.project}" yet: the first registration creates it with the generated labeling config` };
        }
        if (err instanceof PermanentError && err.code === "labelstudio_not_found") {
          throw new PermanentError("labelstudio_project_missing", `project ${s.settings.project} not found (${err.message}): set LABEL_STUDIO_PROJECT to a project id the key's user can see, or to a title`);
        }
        throw err;
      }
      return { detail: `project ${s.project.id} "${s.project.title ?? ""}"` };
    },
  },
  {
    name: "labeling config",
    needs: ["project"],
    run: async (s) => {
      if (!s.project) return { detail: `will be created with a BrushLabels control of ${s.settings.classNames.length} labels (ONTOLOGY)` };
      const binding = bindLabelStudioConfig(s.project.parsed_label_config ?? {}, s.settings.classNames);
      s.control = binding.control;
      const lines = s.settings.classNames.map((name, id) => `class ${id} ${name} → ${binding.missing.includes(name) ? "MISSING" : `Label "${name}" of ${binding.control}`}`);
      if (binding.extra.length > 0) lines.push(`labels with no class (brushes drawn with them are rejected): ${binding.extra.map((l) => `"${l}"`).join(", ")}`);
      if (!binding.control || !binding.imageKey || binding.missing.length > 0) {
        lines.push("set the project's labeling config (Settings → Labeling Interface → Code) to:", ...labelingConfigFor(s.settings.classNames).split("\n"));
        throw Object.assign(new PermanentError("labelstudio_config_unbound", describeUnbound(s.project, binding)), { lines });
      }
      return { detail: `control "${binding.control}" on Image "${binding.imageName ?? "?"}" (task data key "${binding.imageKey}") binds all ${s.settings.classNames.length} classes`, lines };
    },
  },
  {
    name: "image access",
    needs: ["project"],
    run: async (s) => {
      const bucket = s.annotationBucket;
      if (!s.settings.imageUrlPrefix) {
        if (!s.project) return { detail: `tasks will carry gs://${bucket}/… URIs: after the project exists, add a Google Cloud Storage source storage of bucket "${bucket}" to it` };
        const storages = await s.api.listGcsStorages(s.project.id);
        const match = storages.find((st) => st.bucket === bucket);
        if (!match) {
          const seen = storages.map((st) => `"${st.bucket ?? ""}"`).join(", ") || "none";
          throw new PermanentError("labelstudio_no_storage", `tasks carry gs://${bucket}/… URIs, which only a GCS source storage of bucket "${bucket}" resolves (project storages: ${seen}): add one (Settings → Cloud Storage → Add Source Storage; no sync needed), or set LABEL_STUDIO_IMAGE_URL_PREFIX`);
        }
        return { detail: `GCS source storage ${match.id} of bucket "${bucket}" resolves the tasks' gs:// URIs` };
      }
      const task = s.project ? (await s.api.listTasks(s.project.id, 1, 1)).tasks[0] : undefined;
      const image = Object.values(task?.data ?? {}).find((v): v is string => typeof v === "string" && v.startsWith(s.settings.imageUrlPrefix!));
      if (!image) return { detail: `images are served under ${s.settings.imageUrlPrefix}; no task yet to try one` };
      const res = await s.fetch(image, { method: "GET", signal: AbortSignal.timeout(15_000) }).catch((err: unknown) => {
        throw new PermanentError("labelstudio_image_unreachable", `${image} cannot be fetched (${describeError(err)}): LABEL_STUDIO_IMAGE_URL_PREFIX must be reachable from the annotators' browsers`);
      });
      await res.body?.cancel();
      if (!res.ok) throw new PermanentError("labelstudio_image_unreachable", `${image} answered HTTP ${res.status}: LABEL_STUDIO_IMAGE_URL_PREFIX must serve the annotation bucket's objects (the local dashboard serves …/objects/)`);
      return { detail: `task ${task!.id}'s image answers HTTP ${res.status}` };
    },
  },
  {
    name: "annotation",
    needs: ["labeling config"],
    run: async (s) => {
      if (!s.project) return { detail: "no annotation to read yet" };
      for (let page = 1; page <= 5; page++) {
        const { tasks, last } = await s.api.taskPage(s.project.id, page, 100, { all: true, query: { ordering: ["tasks:id"] } });
        for (const task of tasks) {
          const ref = refsOf(task)[0];
          const annotation = task.annotations?.find((a) => String(a.id) === ref?.labelId);
          if (!ref || !annotation) continue;
          const converted = fromLabelStudioResult(annotation.result, {
            itemId: ref.itemId ?? "backend-check", ontology: ontologyFromNames(s.settings.classNames), control: s.control ?? null,
            provenance: { backend: "labelstudio", labelId: ref.labelId, annotator: ref.annotator, editedAt: ref.editedAt },
            imageSize: null,
          });
          if (!converted.ok) throw new PermanentError("labelstudio_annotation_unreadable", `annotation ${ref.labelId} (task ${task.id}) cannot be read: ${converted.error}`);
          const classes = [...new Set(converted.annotation.objects.map((o) => (o.classId === null ? `${o.className} (not ours)` : o.className)))];
          return { detail: `annotation ${ref.labelId} (task ${task.id}) reads: ${converted.annotation.objects.length} mask(s)${classes.length ? ` (${classes.join(", ")})` : ""}` };
        }
        if (last) break;
      }
      return { detail: "no finished annotation to read yet" };
    },
  },
];

export async function checkLabelStudio(config: Config, deps: LabelStudioClientDeps): Promise<CheckReport> {
  const steps: CheckStep[] = [];
  let state: State | null = null;
  try {
    state = {
      api: createLabelStudioClient(config, { ...deps, transport: { maxRetries: 1, ...deps.transport } }),
      settings: labelStudioSettings(config),
      annotationBucket: config.buckets.annotation,
      fetch: deps.fetch ?? globalThis.fetch,
    };
  } catch (err) {
    steps.push({ name: "auth", ok: false, detail: explain(err) });
  }
  for (const step of STEPS) {
    if (steps.some((s) => s.name === step.name)) continue;
    const failedNeed = step.needs.find((need) => !steps.find((s) => s.name === need)?.ok);
    if (!state || failedNeed) {
      steps.push({ name: step.name, ok: false, detail: `skipped: ${!state ? "the configuration is incomplete" : `needs "${failedNeed}"`}` });
      continue;
    }
    try {
      const { detail, lines } = await step.run(state);
      steps.push({ name: step.name, ok: true, detail, ...(lines ? { lines } : {}) });
    } catch (err) {
      const lines = (err as { lines?: string[] }).lines;
      steps.push({ name: step.name, ok: false, detail: explain(err), ...(lines ? { lines } : {}) });
    }
  }
  return { ok: steps.every((s) => s.ok), steps };
}

function explain(err: unknown): string {
  if (err instanceof LabelStudioAuthError) return err.message;
  if (err instanceof TransientError) return `Label Studio unreachable or failing: ${err.message} (check LABEL_STUDIO_URL)`;
  if (err instanceof PermanentError) return err.message;
  return describeError(err);
}

export function formatLabelStudioReport(report: CheckReport, url: string): { out: string[]; err: string[] } {
  const out = [`Label Studio backend check against ${url}`];
  const total = report.steps.length;
  report.steps.forEach((step, i) => {
    out.push(`  ${step.ok ? "ok  " : "FAIL"} ${i + 1}/${total} ${step.name}: ${step.detail}`);
    for (const line of step.lines ?? []) out.push(`         ${line}`);
  });
  const err = report.steps.flatMap((step, i) => (step.ok || step.detail.startsWith("skipped:") ? [] : [`step ${i + 1}/${total} (${step.name}): ${step.detail}`]));
  return { out, err };
}
