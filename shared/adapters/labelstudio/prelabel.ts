import { PermanentError } from "../../errors.ts";
import { classMaskToLabelStudioResult } from "../../core/annotation/labelstudio-result.ts";
import { ontologyFromNames } from "../../core/annotation/ontology.ts";
import type { PrelabelRequest } from "../../ports.ts";
import type { LsTask, TaskQuery } from "./api.ts";
import type { LabelStudioContext } from "./context.ts";
import { itemIdOf } from "./register.ts";

/**
 * Pre-labels as Label Studio predictions (POST /api/predictions/ with `model_version` and `score`;
 * labelstud.io/guide/predictions, docs/labelstudio.md "Pre-labels"): one brush per class present, drawn with alpha
 * 255. Annotators see the prediction of the project's selected model version and correct it. The
 * score is the item's labelling priority: the Data Manager shows and sorts by a prediction score
 * column, which is how the queue is ordered for tasks imported before they were scored
 * [column name and sorting: docs, Data Manager, unverified here].
 *
 * A prediction POST is not idempotent (each makes a row), so a retried call (a crash after the POST)
 * first lists the task's predictions and sends nothing when one of this model version exists.
 */
export async function sendPrelabel(ctx: LabelStudioContext, request: PrelabelRequest, taskIds: Map<string, number>): Promise<void> {
  const { itemId, mask, modelId, priority } = request;
  const binding = await ctx.binding();
  const task = taskIds.get(itemId) ?? (await findTask(ctx, itemId))?.id;
  if (task === undefined) throw new PermanentError("labelstudio_task_missing", `no Label Studio task carries item ${itemId}: register it first`);
  const existing = await ctx.api.listPredictions(task);
  if (existing.some((p) => p.model_version === modelId)) return;
  const result = classMaskToLabelStudioResult(mask.data, mask, ontologyFromNames(ctx.settings.classNames), { control: binding.control, ...(binding.imageName ? { image: binding.imageName } : {}) });
  await ctx.api.createPrediction({ task, result, model_version: modelId, score: priority });
}

/**
 * The task of an item: filtered on `data.itemId` (one request when the Data-Manager filter works),
 * each answer checked, and pages followed if the filter was ignored.
 */
async function findTask(ctx: LabelStudioContext, itemId: string): Promise<LsTask | null> {
  const project = await ctx.project();
  const query: TaskQuery = { filters: { conjunction: "and", items: [{ filter: "filter:tasks:data.itemId", operator: "equal", type: "String", value: itemId }] }, ordering: ["tasks:id"] };
  for (let page = 1; ; page++) {
    const { tasks, last } = await ctx.api.taskPage(project.id, page, 100, { query });
    const hit = tasks.find((t) => itemIdOf(t) === itemId);
    if (hit) return hit;
    if (last) return null;
  }
}
