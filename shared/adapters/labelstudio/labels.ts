import { describeError } from "../../errors.ts";
import { fromLabelStudioResult } from "../../core/annotation/labelstudio-result.ts";
import { ontologyFromNames } from "../../core/annotation/ontology.ts";
import type { FetchedLabel, LabelRef } from "../../ports.ts";
import type { LsAnnotation, LsTask } from "./api.ts";
import type { LabelStudioContext } from "./context.ts";
import type { SeenAnnotations } from "./poll.ts";

/**
 * Label content: what the poll already read (the task listing carries full annotations), else
 * GET /api/annotations/{id}/ and its task. Brushes are decoded from Label Studio's RLE into a
 * class-id mask (core/annotation/labelstudio-result.ts). One bad label never hides the others.
 */
export async function fetchLabels(ctx: LabelStudioContext, refs: readonly LabelRef[], seen: SeenAnnotations): Promise<FetchedLabel[]> {
  if (refs.length === 0) return [];
  const binding = await ctx.binding();
  const ontology = ontologyFromNames(ctx.settings.classNames);
  const out: FetchedLabel[] = [];
  for (const ref of refs) {
    let found: { annotation: LsAnnotation; task: LsTask };
    try {
      found = seen.get(`${ref.labelId}@${ref.editedAt}`) ?? (await readAnnotation(ctx, ref));
    } catch (err) {
      // An auth failure or an outage stops the batch (the poll retries it); a gone label is a result.
      if ((err as { httpStatus?: number }).httpStatus !== 404) throw err;
      out.push({ ref, result: { ok: false, error: `Label Studio annotation ${ref.labelId} is gone: ${describeError(err)}` } });
      continue;
    }
    const { annotation, task } = found;
    const itemId = ref.itemId ?? ref.title ?? ref.labelId;
    const width = Number(task.data.width);
    const height = Number(task.data.height);
    const converted = fromLabelStudioResult(annotation.result, {
      itemId,
      ontology,
      provenance: { backend: "labelstudio", labelId: ref.labelId, annotator: ref.annotator, editedAt: ref.editedAt },
      imageSize: Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0 ? { width, height } : null,
      control: binding.control,
    });
    out.push({ ref, result: converted.ok ? { ok: true, annotation: converted.annotation, notes: converted.notes } : { ok: false, error: converted.error } });
  }
  return out;
}

async function readAnnotation(ctx: LabelStudioContext, ref: LabelRef): Promise<{ annotation: LsAnnotation; task: LsTask }> {
  const annotation = await ctx.api.getAnnotation(Number(ref.labelId));
  const taskId = annotation.task ?? Number(ref.backendRef);
  return { annotation, task: await ctx.api.getTask(taskId) };
}
