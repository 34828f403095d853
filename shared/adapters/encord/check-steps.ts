import { PermanentError } from "../../errors.ts";
import { fromEncordLabelRow } from "../../core/annotation/encord-label-row.ts";
import { bindOntology, ontologyFromEncord, type OntologyBinding } from "../../core/annotation/ontology.ts";
import type { EncordApi } from "./api.ts";
import { findIntegration, type EncordSettings } from "./context.ts";
import type { Project } from "./schemas.ts";

/**
 * The steps of `mlops backend check` for Encord. Each returns what it found (one line, sometimes
 * more) or throws with what to do about it. They share what earlier steps learned (`CheckState`).
 */

export interface CheckState {
  api: EncordApi;
  settings: EncordSettings;
  task: "segmentation" | "detection" | "classification";
  project?: Project;
  binding?: OntologyBinding;
  /** A labelled row found by the legacy-API step, for the label-row step to read. */
  sampleLabelHash?: string | null;
}

export interface StepResult {
  detail: string;
  /** Further lines printed under the step (the class binding). */
  lines?: string[];
}

const fail = (code: string, message: string): never => {
  throw new PermanentError(code, message);
};

export async function checkIntegration({ api, settings }: CheckState): Promise<StepResult> {
  const integration = await findIntegration(api, settings.integration);
  return { detail: `integration "${integration.title}" (${integration.uuid}) is visible to the key` };
}

export async function checkProject(state: CheckState): Promise<StepResult> {
  const { api, settings } = state;
  const project = await api.getProject(settings.projectHash);
  state.project = project;
  const stages = project.workflow?.stages ?? [];
  if (stages.length === 0) fail("encord_no_workflow", `project "${project.title}" has no workflow (a manual QA project?): the loop polls a workflow's Complete stage; use a workflow project`);
  const names = stages.map((s) => s.title).join(" → ");
  if (!stages.some((s) => s.title === settings.completeStage)) {
    fail("encord_no_complete_stage", `project "${project.title}" has no stage titled "${settings.completeStage}" (stages: ${names}); set ENCORD_COMPLETE_STAGE`);
  }
  return { detail: `project "${project.title}"; stages: ${names}; complete stage "${settings.completeStage}" found` };
}

/** Shapes a class must be drawn with for the task: masks for segmentation, boxes for detection. */
const SHAPES_FOR_TASK: Record<CheckState["task"], readonly string[] | null> = {
  segmentation: ["bitmask"],
  detection: ["bounding_box", "rotatable_bounding_box", "polygon", "bitmask"],
  classification: null,
};

export async function checkClassBinding(state: CheckState): Promise<StepResult> {
  const binding = bindOntology(state.project!.editorOntology, state.settings.classNames, SHAPES_FOR_TASK[state.task]);
  state.binding = binding;
  const lines = binding.classes.map((c) => {
    const object = c.object ? `"${c.object.name}" (${c.object.shape ?? "no shape"}, ${c.object.featureNodeHash})` : `MISSING — ${c.problem}`;
    return `class ${c.id} ${c.name} → ${object}`;
  });
  if (binding.unbound.length > 0) {
    lines.push(`Encord objects with no class (labels drawn with them are skipped or rejected): ${binding.unbound.map((o) => `"${o.name}" (${o.shape ?? "no shape"})`).join(", ")}`);
  }
  const missing = binding.classes.filter((c) => c.problem !== null);
  if (missing.length > 0) {
    const names = missing.map((c) => `"${c.name}"`).join(", ");
    throw Object.assign(new PermanentError("encord_class_unbound", `class${missing.length > 1 ? "es" : ""} ${names} not bound: ${missing.map((c) => c.problem).join("; ")}`), { lines });
  }
  return { detail: `${binding.classes.length} classes bound to the project's ontology`, lines };
}

export async function checkDataset({ api, settings }: CheckState): Promise<StepResult> {
  const attached = await api.listProjectDatasetHashes(settings.projectHash);
  if (attached.includes(settings.datasetHash)) return { detail: `dataset ${settings.datasetHash} is attached to the project` };
  // Not attached yet is fine (the first registration attaches it), if the key can read the dataset.
  try {
    await api.listDataRowsTitled(settings.datasetHash, "mlops-loop backend check");
  } catch (err) {
    fail("encord_dataset_unreachable", `dataset ${settings.datasetHash} is not attached to the project and the key cannot read it (${(err as Error).message}): check ENCORD_DATASET_HASH, and give the key's user access to the dataset`);
  }
  return { detail: `dataset ${settings.datasetHash} is readable and not attached to the project yet: the first registration attaches it (${attached.length} other dataset(s) attached)` };
}

export async function checkFolder({ api, settings }: CheckState): Promise<StepResult> {
  let folders = (await api.listFolders(settings.folder)).filter((f) => f.name === settings.folder);
  if (folders.length === 0) folders = (await api.listFolders(null)).filter((f) => f.name === settings.folder);
  const folder = folders[0];
  if (!folder) return { detail: `storage folder "${settings.folder}" does not exist yet: the first registration creates it` };
  try {
    const items = await api.folderItemsPage(folder.uuid, 1);
    return { detail: `storage folder "${settings.folder}" (${folder.uuid}) is readable${items.length === 0 ? " and empty" : ""}${folders.length > 1 ? `; ${folders.length} folders share the name, the first is used` : ""}` };
  } catch (err) {
    return fail("encord_folder_unreadable", `storage folder "${settings.folder}" (${folder.uuid}) cannot be read (${(err as Error).message}): give the key's user access to it, or set ENCORD_FOLDER to a folder it may use`);
  }
}

export async function checkLegacy(state: CheckState): Promise<StepResult> {
  const { api, settings } = state;
  const rows = await api.listLabelRowMetadata(settings.projectHash, { includeUninitialised: true });
  const labelled = rows.filter((r) => r.label_hash);
  const complete = labelled.filter((r) => r.workflow_graph_node?.title === settings.completeStage);
  state.sampleLabelHash = (complete[0] ?? labelled[0])?.label_hash ?? null;
  return { detail: `${rows.length} label row(s), ${complete.length} labelled in "${settings.completeStage}"` };
}

export async function checkLabelRow(state: CheckState): Promise<StepResult> {
  const { api, settings } = state;
  if (!state.sampleLabelHash) return { detail: "no labelled row to read yet" };
  const [row] = await api.getLabelRows(settings.projectHash, [state.sampleLabelHash]);
  if (!row) return fail("encord_label_row_missing", `label row ${state.sampleLabelHash} is listed but Encord returned no content for it: check the key's project role`);
  const ontology = ontologyFromEncord(state.project!.editorOntology, settings.classNames);
  const converted = fromEncordLabelRow(row, { itemId: "backend-check", ontology });
  if (!converted.ok) return fail("encord_label_row_unreadable", `label row ${state.sampleLabelHash} cannot be read: ${converted.error}`);
  const classes = [...new Set(converted.annotation.objects.map((o) => (o.classId === null ? `${o.className} (not ours)` : o.className)))];
  const notes = converted.notes.length > 0 ? `; ${converted.notes.length} object(s) skipped (shapes and classes not ours)` : "";
  return { detail: `label row ${state.sampleLabelHash} reads: ${converted.annotation.objects.length} object(s)${classes.length ? ` (${classes.join(", ")})` : ""}${notes}` };
}
